/* Versioned schema migrations, embedded from src/store/migrations/. */
#pragma once

struct nd_migration {
        int version; /* 0 ends the array */
        const char *name;
        const char *sql;
};

extern const struct nd_migration nd_sqlite_migrations[];
extern const struct nd_migration nd_postgres_migrations[];
