#!/bin/bash
# The agent's spool: what the store has not taken when the agent stops is
# kept on disk, and delivered first at the next start. PostgreSQL stops
# under a running agent; a client lives only while it is down; the agent is
# stopped (exit 0, files in the spool). The store comes back, the agent
# starts again: the client's edge is stored, the spool is empty, a file
# that is not a spool file is set aside with one warning. A spool that
# cannot be written: exit 1, one error line. A full spool: the oldest
# dropped, exit 1. Run under tests/with-postgres.sh (ND_TEST_PG_CTL).
. "$(dirname "$0")/lib.sh"

[ -n "${ND_TEST_PG_CTL:-}" ] || { echo "SKIP: needs tests/with-postgres.sh" >&2; exit 77; }
STORE=$ND_TEST_STORE
SPOOL=$E2E_TMP/var/spool
"$NETDEP" db migrate --store "$STORE" >/dev/null

make_host srv srv
make_host cli cli
link_hosts "$srv" 10.204.0.1 fd79::1 "$cli" 10.204.0.2 fd79::2
ip netns exec "$srv" "$TCP_HOLD" --name server --listen 0.0.0.0:7000 --ready "$E2E_TMP/srv" &
wait_for 5 test -e "$E2E_TMP/srv" || fail "server"

AGENT=
start_agent() { # LOG SPOOL_DIR: an agent in the client host
        ip netns exec "$cli" "$NETDEP" agent -v --store "$STORE" --hostname cli --spool-dir "$2" \
                --interval 200ms --flush-interval 1s 2>"$1" &
        AGENT=$!
}
stop_agent() { # WANTED_STATUS LOG
        local status=0
        kill -TERM "$AGENT"
        wait "$AGENT" || status=$?
        [ "$status" = "$1" ] || { cat "$2" >&2; fail "agent exited $status, not $1"; }
}
spooled() { find "$SPOOL" -maxdepth 1 -name '*.flush' 2>/dev/null | wc -l; }
look_in() { "$NETDEP" look --host 10.204.0.1 --direction in --store "$STORE" 2>&1; }

# The store goes away under a running agent.
start_agent "$E2E_TMP/agent1.log" "$SPOOL"
wait_for 10 grep -q "flushes queued" "$E2E_TMP/agent1.log" || fail "agent did not start"
sleep 1.5
"$ND_TEST_PG_CTL" stop -m fast >/dev/null
wait_for 10 grep -q "unavailable" "$E2E_TMP/agent1.log" || { cat "$E2E_TMP/agent1.log" >&2; fail "store down unseen"; }
# A client that lives only while the store is down, over several flushes.
ip netns exec "$cli" "$TCP_HOLD" --name ghost --connect 10.204.0.1:7000:3 --ready "$E2E_TMP/ghost" &
ghost=$!
wait_for 5 test -e "$E2E_TMP/ghost" || fail "ghost client"
sleep 2.5
kill "$ghost"
wait "$ghost" 2>/dev/null || true
sleep 0.5
stop_agent 0 "$E2E_TMP/agent1.log"
n=$(spooled)
[ "$n" -ge 3 ] || { cat "$E2E_TMP/agent1.log" >&2; fail "$n flushes spooled, expected 3 or more"; }
grep -Eq "spooled to $SPOOL for the next start" "$E2E_TMP/agent1.log" || { cat "$E2E_TMP/agent1.log" >&2; fail "no line saying so"; }
[ "$(stat -c %a "$SPOOL")" = 700 ] || fail "spool directory mode $(stat -c %a "$SPOOL")"
echo "ok: store down, SIGTERM: exit 0, $n flushes spooled"
cp "$(find "$SPOOL" -name '*.flush' | head -n 1)" "$E2E_TMP/sample.flush"

# Back: the ghost is not in the store until the agent starts again.
"$ND_TEST_PG_CTL" start >/dev/null
look_in | grep -q ghost && fail "the ghost edge is in the store before the spool was delivered"
printf 'not a flush\n' >"$SPOOL/00000000000000000000-0000000000-000000.flush"
start_agent "$E2E_TMP/agent2.log" "$SPOOL"
wait_for 20 grep -q "spooled flushes delivered" "$E2E_TMP/agent2.log" ||
        { cat "$E2E_TMP/agent2.log" >&2; fail "spool not delivered"; }
stop_agent 0 "$E2E_TMP/agent2.log"
grep -q "$((n + 1)) spooled flushes in $SPOOL, delivering them first" "$E2E_TMP/agent2.log" ||
        { cat "$E2E_TMP/agent2.log" >&2; fail "the agent did not say what it found"; }
grep -q ": $n spooled flushes delivered" "$E2E_TMP/agent2.log" || { cat "$E2E_TMP/agent2.log" >&2; fail "delivered count"; }
[ "$(spooled)" = 0 ] || fail "spool not empty: $(ls "$SPOOL")"
[ "$(grep -c "unreadable (not a netdep spool file); set aside as" "$E2E_TMP/agent2.log")" = 1 ] ||
        { cat "$E2E_TMP/agent2.log" >&2; fail "one warning for the foreign file"; }
test -e "$SPOOL/00000000000000000000-0000000000-000000.flush.bad" || fail "foreign file not set aside"
t=$(look_in)
grep -Eq '10\.204\.0\.2:many \(ghost, pgid [0-9]+\)  connections 3(  opened 3)?$' <<<"$t" ||
        { echo "$t" >&2; fail "the ghost edge, from the spool"; }
echo "ok: started again: $n spooled flushes delivered, the ghost edge is stored, the spool is empty"

# A spool that cannot be made: the flushes are lost, and the agent says so.
: >"$E2E_TMP/file"
"$ND_TEST_PG_CTL" stop -m fast >/dev/null
start_agent "$E2E_TMP/agent3.log" "$E2E_TMP/file/spool"
wait_for 10 grep -q "unavailable" "$E2E_TMP/agent3.log" || { cat "$E2E_TMP/agent3.log" >&2; fail "store down unseen"; }
sleep 1.5
stop_agent 1 "$E2E_TMP/agent3.log"
[ "$(grep -c '^netdep: error: ' "$E2E_TMP/agent3.log")" = 1 ] || { cat "$E2E_TMP/agent3.log" >&2; fail "one error line"; }
grep -Eq "^netdep: error: agent: [0-9]+ flushes lost: could not spool them to $E2E_TMP/file/spool: Not a directory$" \
        "$E2E_TMP/agent3.log" || { cat "$E2E_TMP/agent3.log" >&2; fail "the error line"; }
echo "ok: spool not writable: exit 1, one error line"

# A full spool (1000 files, the bound): what this stop spools pushes out as
# many of the oldest, and the agent says how many.
FULL=$E2E_TMP/full
mkdir -p "$FULL"
for i in $(seq 1 1000); do
        cp "$E2E_TMP/sample.flush" "$FULL/$(printf %020d "$i")-0000000000-000000.flush"
done
start_agent "$E2E_TMP/agent4.log" "$FULL"
wait_for 10 grep -q "unavailable" "$E2E_TMP/agent4.log" || { cat "$E2E_TMP/agent4.log" >&2; fail "store down unseen"; }
sleep 1.5
stop_agent 1 "$E2E_TMP/agent4.log"
line=$(grep -E "^netdep: warning: agent: spool $FULL full \(at most 1000 files, 64 MiB\): dropped the [0-9]+ oldest flushes$" \
        "$E2E_TMP/agent4.log") || { cat "$E2E_TMP/agent4.log" >&2; fail "the warning for a full spool"; }
dropped=$(sed -E 's/.*dropped the ([0-9]+) oldest.*/\1/' <<<"$line")
[ "$(find "$FULL" -name '*.flush' | wc -l)" = 1000 ] || fail "$(find "$FULL" -name '*.flush' | wc -l) files, not 1000"
test -e "$FULL/$(printf %020d "$dropped")-0000000000-000000.flush" && fail "the oldest were not the ones dropped"
test -e "$FULL/$(printf %020d "$((dropped + 1))")-0000000000-000000.flush" || fail "more than the oldest dropped"
echo "ok: spool full: the $dropped oldest dropped, exit 1"
"$ND_TEST_PG_CTL" start >/dev/null
