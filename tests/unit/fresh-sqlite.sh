#!/bin/sh
# Runs a store test on a fresh SQLite file: removes $ND_TEST_STORE first.
set -e
path=${ND_TEST_STORE#sqlite:}
rm -f "$path" "$path-wal" "$path-shm"
exec "$@"
