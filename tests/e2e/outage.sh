#!/bin/bash
# Store outage: PostgreSQL stops for 30 s while agents run. Collection goes
# on, flushes queue, each agent says once that the store went away and once
# that it is back, and afterwards nothing is missing: every flush made was
# written, and an edge that lived only during the outage is in the store
# with the count it had. Run under tests/with-postgres.sh (ND_TEST_PG_CTL).
. "$(dirname "$0")/lib.sh"

[ -n "${ND_TEST_PG_CTL:-}" ] || { echo "SKIP: needs tests/with-postgres.sh" >&2; exit 77; }
STORE=$ND_TEST_STORE
"$NETDEP" db migrate --store "$STORE" >/dev/null

make_host srv srv
make_host cli cli
link_hosts "$srv" 10.203.0.1 fd78::1 "$cli" 10.203.0.2 fd78::2
ip netns exec "$srv" "$TCP_HOLD" --name server --listen 0.0.0.0:7000 --ready "$E2E_TMP/srv" &
wait_for 5 test -e "$E2E_TMP/srv" || fail "server"
ip netns exec "$cli" "$TCP_HOLD" --name steady --connect 10.203.0.1:7000:2 --ready "$E2E_TMP/steady" &
wait_for 5 test -e "$E2E_TMP/steady" || fail "steady client"

AGENTS=()
for ns in "$srv" "$cli"; do
        ip netns exec "$ns" "$NETDEP" agent -v --store "$STORE" --hostname "${ns##*-}" \
                --interval 1s --flush-interval 1s 2>"$E2E_TMP/agent-${ns##*-}.log" &
        AGENTS+=($!)
done
sleep 4

"$ND_TEST_PG_CTL" stop -m fast >/dev/null
down=$(date +%s)
echo "store stopped"
sleep 8
# A client that lives only while the store is down.
ip netns exec "$cli" "$TCP_HOLD" --name burst --connect 10.203.0.1:7000:7 --ready "$E2E_TMP/burst" &
burst=$!
wait_for 5 test -e "$E2E_TMP/burst" || fail "burst client"
sleep 5
kill "$burst"
while [ $(($(date +%s) - down)) -lt 30 ]; do sleep 1; done
"$ND_TEST_PG_CTL" start >/dev/null
echo "store back after $(($(date +%s) - down)) s"

back() { grep -q "is back" "$E2E_TMP/agent-srv.log" && grep -q "is back" "$E2E_TMP/agent-cli.log"; }
wait_for 45 back || { cat "$E2E_TMP"/agent-*.log >&2; fail "agents did not notice the store is back"; }
sleep 2
kill -TERM "${AGENTS[@]}"
for pid in "${AGENTS[@]}"; do wait "$pid" || fail "agent exited $?"; done

for h in srv cli; do
        log="$E2E_TMP/agent-$h.log"
        [ "$(grep -c 'unavailable' "$log")" = 1 ] || { cat "$log" >&2; fail "$h: one 'unavailable' line"; }
        [ "$(grep -c 'is back' "$log")" = 1 ] || { cat "$log" >&2; fail "$h: one 'is back' line"; }
        line=$(grep -E 'flushes made, [0-9]+ written, [0-9]+ dropped' "$log") || { cat "$log" >&2; fail "$h: stats"; }
        made=$(sed -E 's/.* ([0-9]+) flushes made.*/\1/' <<<"$line")
        written=$(sed -E 's/.* ([0-9]+) written.*/\1/' <<<"$line")
        dropped=$(sed -E 's/.* ([0-9]+) dropped.*/\1/' <<<"$line")
        [ "$made" -ge 35 ] && [ "$written" = "$made" ] && [ "$dropped" = 0 ] ||
                fail "$h: $made flushes made, $written written, $dropped dropped"
        echo "ok: $h agent: $made flushes made, all written, one line down, one line back"
done

t=$("$NETDEP" look --host 10.203.0.1 --direction in --store "$STORE")
# With eBPF (hybrid agents) the 7 connections opened are counted too.
grep -Eq '10\.203\.0\.2:many \(burst, pgid [0-9]+\)  connections 7(  opened 7)?$' <<<"$t" ||
        { echo "$t" >&2; fail "the edge that lived only during the outage"; }
grep -Eq '10\.203\.0\.2:many \(steady, pgid [0-9]+\)  connections 2(  opened 2)?$' <<<"$t" || { echo "$t" >&2; fail "steady edge"; }
# The outage minutes have observations of the steady edge.
"$ND_TEST_PG_PSQL" -Atc "SELECT count(DISTINCT o.bucket) FROM observations o
        JOIN edges e ON e.id = o.edge_id JOIN endpoints c ON c.id = e.client_id
        WHERE c.process = 'steady' AND o.bucket BETWEEN $(( (down + 1) / 60 * 60 )) AND $(( (down + 29) / 60 * 60 ))" \
        >"$E2E_TMP/buckets"
expected=$(( (down + 29) / 60 - (down + 1) / 60 + 1 ))
[ "$(cat "$E2E_TMP/buckets")" = "$expected" ] || fail "outage buckets: $(cat "$E2E_TMP/buckets") of $expected"
echo "ok: the store has what happened while it was down"
