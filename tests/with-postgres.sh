#!/bin/bash
# with-postgres.sh CMD [ARGS...]: runs CMD against a throwaway PostgreSQL.
#
# A fresh cluster in a temporary directory, listening only on a unix socket
# there (no TCP), with one empty database; stopped and removed when CMD
# ends, however it ends. Exits with CMD's status; 77 (meson's "skipped")
# when PostgreSQL's server binaries are missing.
#
# Run as root, the cluster belongs to the `postgres` system user (initdb
# refuses root); run as anyone else, to that user.
#
# CMD sees:
#   ND_TEST_STORE       postgresql:///DB?host=SOCKETDIR&port=PORT&user=USER
#   ND_TEST_PG_DIR      the temporary directory (data/, server.log, socket)
#   ND_TEST_PG_BIN      the directory of initdb, pg_ctl, psql, ...
#   ND_TEST_PG_CTL      a script that runs pg_ctl on this cluster, as its
#                       owner, with -D, -l and -w already given:
#                         "$ND_TEST_PG_CTL" stop -m fast   # the server is gone
#                         "$ND_TEST_PG_CTL" start          # and back, same socket
#   ND_TEST_PG_PSQL     a script that runs psql on the database
#
# Settings: $PG_BIN picks the binaries (default: the newest
# /usr/lib/postgresql/*/bin); $ND_TEST_PG_CONF is appended to
# postgresql.conf (e.g. "fsync = off" for benchmarks that say so).
set -euo pipefail

if [ $# -eq 0 ]; then
        echo "usage: $0 CMD [ARGS...]" >&2
        exit 2
fi

if [ -z "${PG_BIN:-}" ]; then
        PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
fi
if [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/initdb" ] || [ ! -x "$PG_BIN/pg_ctl" ]; then
        echo "SKIP: PostgreSQL server binaries not found (install the postgresql package; make test does)" >&2
        exit 77
fi

if [ "$(id -u)" = 0 ]; then
        PG_USER=postgres
        if ! id "$PG_USER" >/dev/null 2>&1; then
                echo "SKIP: no '$PG_USER' user to run PostgreSQL as" >&2
                exit 77
        fi
        as_owner() { runuser -u "$PG_USER" -- "$@"; }
else
        PG_USER=$(id -un)
        as_owner() { "$@"; }
fi

PG_PORT=5432 # only names the socket file: nothing listens on TCP
PG_DB=netdep_test
# Short: a unix socket path must fit in 107 bytes.
PG_DIR=$(mktemp -d /tmp/nd-pg.XXXXXX)

cleanup() {
        local status=$?
        trap - EXIT INT TERM
        if [ -f "$PG_DIR/data/postmaster.pid" ]; then
                as_owner "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
        fi
        rm -rf "$PG_DIR"
        exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

chmod 0755 "$PG_DIR"
[ "$(id -u)" = 0 ] && chown "$PG_USER:" "$PG_DIR"

if ! as_owner "$PG_BIN/initdb" -D "$PG_DIR/data" -U "$PG_USER" --auth=trust --encoding=UTF8 --no-locale \
        --no-sync >"$PG_DIR/initdb.log" 2>&1; then
        cat "$PG_DIR/initdb.log" >&2
        echo "initdb failed" >&2
        exit 1
fi
cat >>"$PG_DIR/data/postgresql.conf" <<EOF
listen_addresses = ''
unix_socket_directories = '$PG_DIR'
port = $PG_PORT
${ND_TEST_PG_CONF:-}
EOF

cat >"$PG_DIR/pg-ctl" <<EOF
#!/bin/sh
# pg_ctl for the throwaway cluster in $PG_DIR.
exec $([ "$(id -u)" = 0 ] && echo "runuser -u $PG_USER --") "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w "\$@"
EOF
cat >"$PG_DIR/psql" <<EOF
#!/bin/sh
exec "$PG_BIN/psql" -X -q -h "$PG_DIR" -p $PG_PORT -U "$PG_USER" -d $PG_DB "\$@"
EOF
chmod 0755 "$PG_DIR/pg-ctl" "$PG_DIR/psql"

if ! "$PG_DIR/pg-ctl" start >/dev/null; then
        cat "$PG_DIR/server.log" >&2
        echo "PostgreSQL did not start" >&2
        exit 1
fi
as_owner "$PG_BIN/createdb" -h "$PG_DIR" -p "$PG_PORT" -U "$PG_USER" "$PG_DB"

export ND_TEST_STORE="postgresql:///$PG_DB?host=$PG_DIR&port=$PG_PORT&user=$PG_USER"
export ND_TEST_PG_DIR=$PG_DIR
export ND_TEST_PG_BIN=$PG_BIN
export ND_TEST_PG_CTL=$PG_DIR/pg-ctl
export ND_TEST_PG_PSQL=$PG_DIR/psql

status=0
"$@" || status=$?
exit "$status"
