#!/bin/bash
# Agent settings: flags beat the environment, the environment beats the
# config file, the file beats the defaults; a bad value names its source.
# And the store errors every verb shares.
. "$(dirname "$0")/lib.sh"

store="sqlite:$E2E_TMP/agent.db"
"$NETDEP" db migrate --store "$store" >/dev/null

expect() { # STATUS PATTERN CMD...: exit status and a stderr line
        local want=$1 pattern=$2 status=0
        shift 2
        "$@" >"$E2E_TMP/out" 2>"$E2E_TMP/err" || status=$?
        [ "$status" = "$want" ] || { cat "$E2E_TMP/err" >&2; fail "$* exited $status, not $want"; }
        [ -z "$pattern" ] || grep -Eq -- "$pattern" "$E2E_TMP/err" || { cat "$E2E_TMP/err" >&2; fail "$*: no '$pattern'"; }
}

cat >"$E2E_TMP/agent.conf" <<EOF2
# netdep agent settings
store = $store
interval = bogus
EOF2
expect 2 "invalid interval 'bogus' from $E2E_TMP/agent.conf:3" "$NETDEP" agent --once --config "$E2E_TMP/agent.conf"
# The environment beats the file...
NETDEP_INTERVAL=2s expect 0 "" "$NETDEP" agent --once --config "$E2E_TMP/agent.conf"
NETDEP_INTERVAL=0s expect 2 "invalid interval '0s' from NETDEP_INTERVAL" "$NETDEP" agent --once --config "$E2E_TMP/agent.conf"
# ...and a flag beats both.
NETDEP_INTERVAL=0s expect 0 "" "$NETDEP" agent --once --interval 1s --config "$E2E_TMP/agent.conf"
NETDEP_INTERVAL=1s expect 2 "invalid interval 'x' from --interval" "$NETDEP" agent --once --interval x --config "$E2E_TMP/agent.conf"
echo "ok: flags > environment > file, errors name the source"
NETDEP_NICE=20 expect 2 "invalid nice '20' from NETDEP_NICE \\(0 to 19\\)" "$NETDEP" agent --once --store "$store"
# The agent and its threads run at the niceness asked for (19 by default).
"$NETDEP" agent --store "$store" --interval 1s >"$E2E_TMP/nice.out" 2>&1 &
agent=$!
wait_for 10 sh -c "[ \$(ls /proc/$agent/task | wc -l) -ge 2 ]" || fail "agent threads did not start"
for task in /proc/$agent/task/*; do
        [ "$(awk '{print $19}' "$task/stat")" = 19 ] || fail "agent thread $task not at niceness 19"
done
kill "$agent"
wait "$agent" || fail "agent exited non-zero on SIGTERM"
echo "ok: nice"

printf 'colour = blue\n' >"$E2E_TMP/bad.conf"
expect 2 "bad.conf:1: unknown setting 'colour'" "$NETDEP" agent --once --config "$E2E_TMP/bad.conf"
expect 2 "missing.conf: No such file" "$NETDEP" agent --once --config "$E2E_TMP/missing.conf"
NETDEP_KEEP_LOOPBACK=maybe expect 2 "invalid keep-loopback 'maybe' from NETDEP_KEEP_LOOPBACK" \
        "$NETDEP" agent --once --store "$store"
echo "ok: bad config files"

# Store errors: no schema, an unknown scheme, an unreachable PostgreSQL with
# its password redacted.
expect 1 "netdep db migrate" "$NETDEP" look --host 10.0.0.1 --store "sqlite:$E2E_TMP/none.db"
[ ! -e "$E2E_TMP/none.db" ] || fail "a question must not create the store"
sqlite3 "$E2E_TMP/empty.db" "CREATE TABLE unrelated (x)"
expect 1 "has no netdep schema; run 'netdep db migrate --store sqlite:" "$NETDEP" look --host 10.0.0.1 --store "sqlite:$E2E_TMP/empty.db"
expect 1 "unknown store scheme" "$NETDEP" look --host 10.0.0.1 --store "mysql://x@y/z"
expect 1 "Failed to open store postgresql://netdep:\*\*\*@127.0.0.1:1/netdep" \
        "$NETDEP" look --host 10.0.0.1 --store "postgresql://netdep:s3cret@127.0.0.1:1/netdep"
grep -q s3cret "$E2E_TMP/err" && fail "the password leaked into an error"
expect 1 "Failed to open store" "$NETDEP" agent --once --store "postgresql://netdep:s3cret@127.0.0.1:1/netdep?connect_timeout=2"
grep -q s3cret "$E2E_TMP/err" && fail "the agent leaked the password"
echo "ok: store errors, password redacted"

# Without root the agent cannot read other processes' fds: it says so, once,
# however many scans it makes.
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
chmod 0755 "$E2E_TMP"
mkdir -m 0777 "$E2E_TMP/nobody"
as_nobody "$NETDEP" db migrate --store "sqlite:$E2E_TMP/nobody/agent.db" >/dev/null
expect 0 "agent: process attribution is partial: the fds of [0-9]+ processes are not readable without root" \
        timeout --preserve-status -s TERM 3.5 setpriv --reuid=nobody --regid=nogroup --clear-groups \
        "$NETDEP" agent --mode polling --interval 1s --flush-interval 1s --store "sqlite:$E2E_TMP/nobody/agent.db"
[ "$(grep -c "attribution is partial" "$E2E_TMP/err")" = 1 ] || { cat "$E2E_TMP/err" >&2; fail "not one warning"; }
echo "ok: an agent without root says once that attribution is partial"
