#!/bin/bash
# The agent's streaming side (eBPF), end to end, on the store $ND_TEST_STORE
# names (a fresh SQLite file when unset). Two hosts joined by a veth pair:
#
#   - 2,000 connections that each live under 10 ms, opened over 2 s: the
#     hybrid agents on both hosts store exactly 2,000 connections opened on
#     that edge (the client's and the server's view), while a polling agent
#     beside them, at the same 1 s interval, sees far fewer;
#   - 100 connects to a closed port: exactly 100 failed connects for that
#     (address, port);
#   - a server that stops listening while its connections live on: the
#     hybrid agent keeps them passive (the listener's LISTEN -> CLOSE
#     transition is remembered); a polling agent turns them into a bogus
#     outgoing edge, which proves the point;
#   - two connections open before the agents started: the hybrid agents
#     adopt them, each credited to its process; the streaming agent does
#     not see them;
#   - NETDEP_BPF=off: auto mode falls back to polling and says so in one
#     line; an explicit --mode streaming refuses to start.
. "$(dirname "$0")/lib.sh"
: "${SHORT_CONNS:?}" "${ND_HAVE_BPF:?}"

if [ -z "${ND_TEST_STORE:-}" ]; then
        ND_TEST_STORE="sqlite:$E2E_TMP/streaming.db"
        chmod 755 "$E2E_TMP"
fi
STORE=$ND_TEST_STORE
POLL_STORE="sqlite:$E2E_TMP/polling.db" # the polling agents' own store
STREAM_STORE="sqlite:$E2E_TMP/streaming-only.db" # a streaming-mode agent's
for s in "$STORE" "$POLL_STORE" "$STREAM_STORE"; do "$NETDEP" db migrate --store "$s" >/dev/null; done

sql() { # STORE QUERY: one value per line
        case $1 in
        sqlite:*) sqlite3 "${1#sqlite:}" "$2" ;;
        *) "${ND_TEST_PG_PSQL:?}" -qAtc "$2" ;;
        esac
}
# edge_sum STORE COLUMN CLIENT_ADDR CLIENT_PROCESS SERVER_ADDR PORT: the
# column summed over the edge's observations ("" for any client process).
edge_sum() {
        local proc_match="c.process = '$4'"
        [ -n "$4" ] || proc_match="true"
        sql "$1" "SELECT coalesce(sum(o.$2), 0) FROM observations o JOIN edges e ON e.id = o.edge_id
                  JOIN endpoints c ON c.id = e.client_id JOIN endpoints s ON s.id = e.server_id
                  WHERE c.addr = '$3' AND $proc_match AND s.addr = '$5' AND s.port = $6"
}

# The off switch, whatever the build.
NETDEP_BPF=off "$NETDEP" agent --store "$STORE" --mode streaming >"$E2E_TMP/out" 2>"$E2E_TMP/err" && fail "streaming mode started with eBPF off"
grep -q "streaming mode needs eBPF, which is unavailable: eBPF is switched off by NETDEP_BPF=off" "$E2E_TMP/err" ||
        { cat "$E2E_TMP/err" >&2; fail "--mode streaming with NETDEP_BPF=off: message"; }
"$NETDEP" agent --store "$STORE" --mode sometimes >"$E2E_TMP/out" 2>"$E2E_TMP/err" && fail "a bad mode was taken"
[ "$(head -1 "$E2E_TMP/err")" = "netdep: error: invalid mode 'sometimes' from --mode: polling, streaming, hybrid or auto" ] ||
        { cat "$E2E_TMP/err" >&2; fail "bad --mode message"; }
NETDEP_MAX_SOCKETS=0 "$NETDEP" agent --store "$STORE" >"$E2E_TMP/out" 2>"$E2E_TMP/err" && fail "max-sockets 0 was taken"
[ "$(head -1 "$E2E_TMP/err")" = "netdep: error: invalid max-sockets '0' from NETDEP_MAX_SOCKETS (1 to 16777216)" ] ||
        { cat "$E2E_TMP/err" >&2; fail "bad NETDEP_MAX_SOCKETS message"; }
echo "ok: usage errors, --mode streaming refused with eBPF off"

make_host srv srv
make_host cli cli
link_hosts "$srv" 10.203.0.1 fd79::1 "$cli" 10.203.0.2 fd79::2

declare -A AGENT
start_agent() { # NAME NETNS STORE ARGS...: an agent, until its mode line is out
        local name=$1 ns=$2 store=$3
        shift 3
        ip netns exec "$ns" "$NETDEP" agent --store "$store" --interval 1s --flush-interval 1s "$@" \
                2>"$E2E_TMP/agent-$name.log" &
        AGENT[$name]=$!
        wait_for 30 grep -q " mode" "$E2E_TMP/agent-$name.log" ||
                { cat "$E2E_TMP/agent-$name.log" >&2; fail "agent $name did not start"; }
}
stop_agent() { # NAME: SIGTERM, a final flush, exit 0
        local rc=0
        kill -TERM "${AGENT[$1]}"
        wait "${AGENT[$1]}" || rc=$?
        [ "$rc" = 0 ] || { cat "$E2E_TMP/agent-$1.log" >&2; fail "agent $1 exited $rc"; }
}

# Off: auto falls back to polling, in one line that says why.
NETDEP_BPF=off start_agent off "$cli" "$POLL_STORE"
stop_agent off
[ "$(grep -c " mode" "$E2E_TMP/agent-off.log")" = 1 ] || { cat "$E2E_TMP/agent-off.log" >&2; fail "mode lines"; }
grep -q "agent: polling mode: eBPF unavailable: eBPF is switched off by NETDEP_BPF=off" "$E2E_TMP/agent-off.log" ||
        { cat "$E2E_TMP/agent-off.log" >&2; fail "NETDEP_BPF=off fallback line"; }
echo "ok: NETDEP_BPF=off falls back to polling"

if [ "$ND_HAVE_BPF" != 1 ]; then
        start_agent nobpf "$cli" "$POLL_STORE"
        stop_agent nobpf
        grep -q "agent: polling mode: eBPF unavailable: .*built without eBPF" "$E2E_TMP/agent-nobpf.log" ||
                { cat "$E2E_TMP/agent-nobpf.log" >&2; fail "a build without eBPF must say so"; }
        echo "SKIP: netdep was built without eBPF"
        exit 77
fi

# The servers: short connections on 7000; long ones on 7100 from a server
# that will stop listening.
ip netns exec "$srv" "$SHORT_CONNS" --name sc-server --listen 10.203.0.1:7000 --ready "$E2E_TMP/sc-ready" &
wait_for 10 test -e "$E2E_TMP/sc-ready" || fail "short-conns server did not start"
ip netns exec "$srv" "$TCP_HOLD" --name holdsrv --listen 10.203.0.1:7100 --ready "$E2E_TMP/hold-srv" &
hold_srv=$!
wait_for 10 test -e "$E2E_TMP/hold-srv" || fail "holdsrv did not start"

# Open before any agent starts.
ip netns exec "$srv" "$TCP_HOLD" --name holdpresrv --listen 10.203.0.1:7200 --ready "$E2E_TMP/pre-srv" &
wait_for 10 test -e "$E2E_TMP/pre-srv" || fail "holdpresrv did not start"
ip netns exec "$cli" "$TCP_HOLD" --name holdpre --connect 10.203.0.1:7200:2 --ready "$E2E_TMP/pre-cli" &
wait_for 10 test -e "$E2E_TMP/pre-cli" || fail "holdpre did not connect"

start_agent srv "$srv" "$STORE" --hostname srv1
start_agent cli "$cli" "$STORE" --hostname cli1
start_agent srv-poll "$srv" "$POLL_STORE" --hostname srv1 --mode polling
start_agent cli-poll "$cli" "$POLL_STORE" --hostname cli1 --mode polling
start_agent cli-stream "$cli" "$STREAM_STORE" --hostname cli1 --mode streaming
for a in srv cli; do
        [ "$(grep -c " mode" "$E2E_TMP/agent-$a.log")" = 1 ] && grep -Eq "agent: hybrid mode \(eBPF programs loaded: ([0-9]+) of \1\)" "$E2E_TMP/agent-$a.log" ||
                { cat "$E2E_TMP/agent-$a.log" >&2; fail "agent $a: not one hybrid mode line"; }
done
grep -q "agent: polling mode (mode=polling from --mode)" "$E2E_TMP/agent-cli-poll.log" ||
        { cat "$E2E_TMP/agent-cli-poll.log" >&2; fail "explicit polling mode line"; }
grep -q "agent: streaming mode: eBPF events only" "$E2E_TMP/agent-cli-stream.log" ||
        { cat "$E2E_TMP/agent-cli-stream.log" >&2; fail "streaming mode line"; }
echo "ok: the agents say their modes"

ip netns exec "$cli" "$TCP_HOLD" --name holdcli --connect 10.203.0.1:7100:3 --ready "$E2E_TMP/hold-cli" &
wait_for 10 test -e "$E2E_TMP/hold-cli" || fail "holdcli did not connect"

out=$(ip netns exec "$cli" "$SHORT_CONNS" --name sc-client --connect 10.203.0.1:7000 --count 2000 --over 2)
read -r _ ok _ failed _ max _ median <<<"$out"
[ "$ok" = 2000 ] && [ "$failed" = 0 ] || fail "short-conns: $out"
# As trace.sh: the median, since a loaded 2-core machine stretches a few.
[ "$median" -lt 10000 ] || fail "connections lived ${median}us (median; max ${max}us), not under 10 ms"
out=$(ip netns exec "$cli" "$SHORT_CONNS" --name sc-refused --connect 10.203.0.1:7001 --count 100 --over 0.5 --expect refused)
read -r _ ok _ failed _ <<<"$out"
[ "$failed" = 100 ] || fail "refused connects: $out"

# The server stops listening; its three connections live on for a few scans.
sleep 1.5
kill -USR1 "$hold_srv"
closed_at=$(date +%s)
wait_for 5 sh -c "! ip netns exec '$srv' ss -Htln | grep -q ':7100'" || fail "holdsrv kept listening"
sleep 3.5

for a in srv cli srv-poll cli-poll cli-stream; do stop_agent "$a"; done
for a in srv cli cli-stream; do
        if grep -q "events lost\|could not be written\|dropped" "$E2E_TMP/agent-$a.log"; then
                cat "$E2E_TMP/agent-$a.log" >&2
                fail "agent $a lost something"
        fi
done

n=$(edge_sum "$STORE" opened_by_client 10.203.0.2 sc-client 10.203.0.1 7000)
[ "$n" = 2000 ] || fail "client's agent stored $n connections opened, not 2000"
n=$(edge_sum "$STORE" opened_by_server 10.203.0.2 "" 10.203.0.1 7000)
[ "$n" = 2000 ] || fail "server's agent stored $n connections opened, not 2000"
polled=$(edge_sum "$POLL_STORE" connections 10.203.0.2 sc-client 10.203.0.1 7000)
[ "$polled" -lt 200 ] || fail "polling alone recorded $polled of 2000 short connections: the test proves nothing"
n=$(edge_sum "$STREAM_STORE" opened_by_client 10.203.0.2 sc-client 10.203.0.1 7000)
[ "$n" = 2000 ] || fail "the streaming agent stored $n connections opened, not 2000"
echo "ok: 2000 short connections stored by the hybrid and streaming agents; polling alone saw $polled"

n=$(edge_sum "$STORE" failed 10.203.0.2 sc-refused 10.203.0.1 7001)
[ "$n" = 100 ] || fail "$n failed connects stored for 10.203.0.1:7001, not 100"
n=$(edge_sum "$STREAM_STORE" failed 10.203.0.2 sc-refused 10.203.0.1 7001)
[ "$n" = 100 ] || fail "the streaming agent stored $n failed connects, not 100"
echo "ok: 100 failed connects stored"

# The same through `look`: tree lines and JSON.
t=$("$NETDEP" look --host 10.203.0.2 --direction out --store "$STORE")
grep -Eq -- '--> srv1 10\.203\.0\.1:7000 \(sc-server, pgid [0-9]+\)  connections [0-9]+  opened 2000$' <<<"$t" ||
        { echo "$t" >&2; fail "look: no 'opened 2000' line for 7000"; }
grep -Eq -- '--> srv1 10\.203\.0\.1:7001 \(\?\)  connections 0  failed 100$' <<<"$t" ||
        { echo "$t" >&2; fail "look: no 'failed 100' line for 7001"; }
j=$("$NETDEP" look --host 10.203.0.1 --direction in --format json --store "$STORE")
[ "$(jq '[.in[] | select(.port == 7000) | .children[] | .opened] | add' <<<"$j")" = 2000 ] ||
        { echo "$j" >&2; fail "look --format json: opened on 7000"; }
echo "ok: look shows connections opened and failed connects"

# Streaming alone knows the connections open from the events: holdcli's 3.
n=$(sql "$STREAM_STORE" "SELECT e.last_connections FROM edges e JOIN endpoints c ON c.id = e.client_id
                         JOIN endpoints s ON s.id = e.server_id
                         WHERE c.process = 'holdcli' AND s.addr = '10.203.0.1' AND s.port = 7100")
[ "$n" = 3 ] || fail "the streaming agent's last count of holdcli's connections is '$n', not 3"
echo "ok: streaming mode counts the connections open"

# After the listener closed: the hybrid server agent still sees 3 incoming
# connections on 7100 and no outgoing edge to the client's ephemeral ports.
bogus() { sql "$1" "SELECT count(*) FROM edges e JOIN endpoints c ON c.id = e.client_id
                    JOIN endpoints s ON s.id = e.server_id WHERE c.addr = '10.203.0.1' AND s.addr = '10.203.0.2'"; }
[ "$(bogus "$STORE")" = 0 ] || fail "the hybrid agent turned connections without a listener into an outgoing edge"
[ "$(bogus "$POLL_STORE")" -gt 0 ] || fail "polling did not misclassify them: the test proves nothing"
last=$(sql "$STORE" "SELECT max(e.last_seen) FROM edges e JOIN endpoints s ON s.id = e.server_id
                     WHERE s.addr = '10.203.0.1' AND s.port = 7100 AND s.name = 'holdsrv' AND e.last_connections = 3")
[ -n "$last" ] && [ "$last" -ge $((closed_at + 2)) ] ||
        fail "the incoming edge on 7100 was not kept after the listener closed at $closed_at (last seen: $last)"
echo "ok: connections outlive their listener, still incoming"

# Open before the agents: adopted by hybrid mode, with both processes and
# the direction; not seen by streaming mode.
pre() { sql "$1" "SELECT coalesce(max(e.last_connections), 0) FROM edges e JOIN endpoints c ON c.id = e.client_id
                  JOIN endpoints s ON s.id = e.server_id WHERE c.process = '$2' AND s.addr = '10.203.0.1'
                  AND s.port = 7200 AND ('$3' = '' OR s.name = '$3')"; }
n=$(pre "$STORE" holdpre "")
[ "$n" = 2 ] || fail "the hybrid client agent counts $n of holdpre's 2 connections opened before it started"
n=$(sql "$STORE" "SELECT count(*) FROM edges e JOIN endpoints s ON s.id = e.server_id
                  WHERE s.addr = '10.203.0.1' AND s.port = 7200 AND s.name = 'holdpresrv' AND e.last_connections = 2")
[ "$n" -ge 1 ] || fail "the hybrid server agent did not credit the 2 adopted connections on 7200 to holdpresrv"
n=$(sql "$STREAM_STORE" "SELECT count(*) FROM edges e JOIN endpoints s ON s.id = e.server_id WHERE s.port = 7200")
[ "$n" = 0 ] || fail "the streaming agent saw connections opened before it started"
echo "ok: connections open before the agents: adopted by hybrid mode, unseen by streaming mode"
