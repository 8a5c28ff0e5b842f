#!/bin/bash
# Streaming mode (eBPF). Two hosts joined by a veth pair; the client host
# opens 2,000 connections of a few hundred microseconds each over 2 s, 50
# over IPv6, and 100 connects to a closed port. `netdep trace --json` in
# each namespace must count every one of them exactly: connects, accepts
# and closes (with payload bytes), failed connects with their reason, and
# the listeners opening and closing. From the root namespace, --all-netns
# with --port and --pid filters sees only what they select, and a trace
# started after the server still credits its connections to it.
. "$(dirname "$0")/lib.sh"
: "${SHORT_CONNS:?}" "${ND_HAVE_BPF:?}"

# Usage errors and the off switch, whatever the build.
expect_exit() { # STATUS COMMAND...: runs it, output to $E2E_TMP/out and err
        local want=$1 rc=0
        shift
        "$@" >"$E2E_TMP/out" 2>"$E2E_TMP/err" || rc=$?
        [ "$rc" = "$want" ] || { cat "$E2E_TMP/err" >&2; fail "$* exited $rc, expected $want"; }
}
for bad in "--port 0" "--port 65536" "--port x" "--pid 0" "--pid -3" "--bogus" "stray" "--ring-bytes 0"; do
        # shellcheck disable=SC2086 # split on purpose
        expect_exit 2 "$NETDEP" trace $bad
        grep -q "^netdep: error: " "$E2E_TMP/err" || fail "usage error for '$bad' is not one error line"
done
expect_exit 0 "$NETDEP" trace --help
grep -q "^Usage: netdep trace" "$E2E_TMP/out" || fail "trace --help"

NETDEP_BPF=off expect_exit 1 "$NETDEP" trace
[ "$(cat "$E2E_TMP/err")" = "netdep: error: eBPF unavailable: eBPF is switched off by NETDEP_BPF=off" ] ||
        { cat "$E2E_TMP/err" >&2; fail "NETDEP_BPF=off message"; }
NETDEP_BPF=sometimes expect_exit 1 "$NETDEP" trace
grep -q "NETDEP_BPF=sometimes is neither on nor off" "$E2E_TMP/err" || fail "bad NETDEP_BPF value"
echo "ok: usage errors, NETDEP_BPF=off"

if [ "$ND_HAVE_BPF" != 1 ]; then
        expect_exit 1 "$NETDEP" trace
        grep -q "built without eBPF" "$E2E_TMP/err" || fail "a build without eBPF must say so"
        echo "SKIP: netdep was built without eBPF"
        exit 77
fi

make_host srv srv
make_host cli cli
link_hosts "$srv" 10.202.0.1 fd78::1 "$cli" 10.202.0.2 fd78::2
srv_ino=$(netns_inode "$srv")
cli_ino=$(netns_inode "$cli")

declare -A trace_pid
start_trace() { # NAME NETNS|- ARGS...: netdep trace in the background, until ready
        local name=$1 ns=$2
        shift 2
        if [ "$ns" = - ]; then
                "$NETDEP" trace "$@" >"$E2E_TMP/$name.out" 2>"$E2E_TMP/$name.err" &
        else
                ip netns exec "$ns" "$NETDEP" trace "$@" >"$E2E_TMP/$name.out" 2>"$E2E_TMP/$name.err" &
        fi
        trace_pid[$name]=$!
        wait_for 30 grep -q "tracing TCP events" "$E2E_TMP/$name.err" ||
                { cat "$E2E_TMP/$name.err" >&2; fail "trace $name did not start"; }
}
stop_trace() { # NAME: SIGINT, then it must exit 0 without losses
        local name=$1 rc=0
        kill -INT "${trace_pid[$name]}"
        wait "${trace_pid[$name]}" || rc=$?
        [ "$rc" = 0 ] || { cat "$E2E_TMP/$name.err" >&2; fail "trace $name exited $rc after SIGINT"; }
        if grep -q "lost\|not followed\|malformed" "$E2E_TMP/$name.err"; then
                cat "$E2E_TMP/$name.err" >&2
                fail "trace $name lost events"
        fi
}
count() { # NAME JQ_FILTER: events of trace NAME that match
        jq -c "select($2)" "$E2E_TMP/$1.out" | wc -l
}

start_trace srv "$srv" --json
start_trace cli "$cli" --json
start_trace cli-table "$cli"
start_trace port - --json --all-netns --port 7001

ip netns exec "$srv" "$SHORT_CONNS" --name sc-server --listen 10.202.0.1:7000 --ready "$E2E_TMP/srv4" &
server4=$!
ip netns exec "$srv" "$SHORT_CONNS" --name sc-server6 --listen '[fd78::1]:7002' --ready "$E2E_TMP/srv6" &
server6=$!
wait_for 10 test -e "$E2E_TMP/srv4" -a -e "$E2E_TMP/srv6" || fail "servers did not start"
# Started after the server: must still credit its connections to it.
start_trace pid - --json --all-netns --pid "$server4"

ip netns exec "$cli" "$SHORT_CONNS" --name sc-client --connect 10.202.0.1:7000 --count 2000 --over 2 \
        >"$E2E_TMP/client.out" &
client=$!
wait "$client" || fail "client: $(cat "$E2E_TMP/client.out")"
echo "client: $(cat "$E2E_TMP/client.out")"
ip netns exec "$cli" "$SHORT_CONNS" --name sc-client6 --connect '[fd78::1]:7002' --count 50 --over 0.1 \
        >/dev/null &
client6=$!
wait "$client6" || fail "IPv6 client"
ip netns exec "$cli" "$SHORT_CONNS" --name sc-refused --connect 10.202.0.1:7001 --count 100 --over 0.2 \
        --expect refused >/dev/null &
refused=$!
wait "$refused" || fail "refused client"

kill "$server4" "$server6"
wait "$server4" "$server6" || true

# Everything the kernel did is in the ring buffers by now; give the traces
# a moment to drain them, then stop.
all_in() { [ "$(count srv '.event == "listen_stop"')" = 2 ] && [ "$(count pid '.event == "listen_stop"')" = 1 ]; }
wait_for 10 all_in || true
for name in srv cli cli-table port pid; do
        stop_trace "$name"
done

expect() { # WHAT TRACE FILTER COUNT
        local got
        got=$(count "$2" "$3")
        [ "$got" = "$4" ] || fail "$1: $got events, expected $4 (trace $2: $3)"
        echo "ok: $1 ($4)"
}

# The client host: every connect, close and failure, exactly.
flow='.daddr == "10.202.0.1" and .dport == 7000 and .saddr == "10.202.0.2"'
mine="(.pid == $client and .comm == \"sc-client\")"
expect "connect events of the flow" cli ".event == \"connect\" and $flow and $mine and .direction == \"active\"" 2000
expect "close events of the flow, with payload bytes" cli \
        ".event == \"close\" and $flow and $mine and .direction == \"active\" and .bytes_sent == 100 and .bytes_received == 50" 2000
expect "failed connects to the closed port" cli \
        ".event == \"failed\" and .daddr == \"10.202.0.1\" and .dport == 7001 and .reason == \"refused\" and .errno == 111 and .pid == $refused" 100
expect "IPv6 connects" cli ".event == \"connect\" and .daddr == \"fd78::1\" and .dport == 7002 and .pid == $client6" 50
expect "events of other namespaces in the client's trace" cli ".netns != $cli_ino" 0
expect "client events in all" cli "true" 4200
# Each close is the close of a connect: the socket cookie pairs them.
unpaired=$(jq -s '[.[] | select(.event == "connect" or .event == "close") | .cookie] | group_by(.) | map(select(length != 2)) | length' \
        "$E2E_TMP/cli.out")
[ "$unpaired" = 0 ] || fail "$unpaired cookies without exactly one connect and one close"
median=$(jq -s "[.[] | select(.event == \"close\" and $flow) | .duration_us] | sort | .[length / 2 | floor]" "$E2E_TMP/cli.out")
max=$(jq -s "[.[] | select(.event == \"close\" and $flow) | .duration_us] | max" "$E2E_TMP/cli.out")
[ "$median" -lt 10000 ] || fail "connections lived ${median}us (median), expected under 10 ms"
echo "ok: connect/close paired by cookie; lifetimes median ${median}us, max ${max}us"

# The server host: the listener, every accept and close, credited to it.
served="(.pid == $server4 and .comm == \"sc-server\")"
sflow='.saddr == "10.202.0.1" and .sport == 7000 and .daddr == "10.202.0.2"'
expect "listen" srv ".event == \"listen\" and .saddr == \"10.202.0.1\" and .sport == 7000 and $served and .daddr == null" 1
expect "accept events" srv ".event == \"accept\" and $sflow and $served and .direction == \"passive\"" 2000
expect "passive closes, with payload bytes" srv \
        ".event == \"close\" and $sflow and $served and .direction == \"passive\" and .bytes_sent == 50 and .bytes_received == 100" 2000
expect "listen_stop" srv ".event == \"listen_stop\" and .sport == 7000 and $served" 1
expect "IPv6 accepts" srv ".event == \"accept\" and .saddr == \"fd78::1\" and .sport == 7002 and .pid == $server6" 50
expect "events of other namespaces in the server's trace" srv ".netns != $srv_ino" 0
expect "server events in all" srv "true" 4104

# Root namespace, --all-netns --port 7001: the failures only, tagged with
# the client's namespace.
expect "--port 7001" port ".event == \"failed\" and .dport == 7001 and .netns == $cli_ino" 100
expect "--port 7001, all" port "true" 100
# --pid of a server whose listener predates the trace.
expect "--pid: accepts credited to a listener opened before the trace" pid \
        ".event == \"accept\" and $sflow and $served and .netns == $srv_ino" 2000
expect "--pid: closes" pid ".event == \"close\" and $served" 2000
expect "--pid, all" pid "true" 4001

# Lost events are counted, not hidden: a one-page ring buffer and a trace
# that cannot read (stopped) while 200 connections come and go. What it
# prints plus what it reports lost is every event.
ip netns exec "$srv" "$SHORT_CONNS" --name sc-server --listen 10.202.0.1:7000 --ready "$E2E_TMP/srv4b" &
server4=$!
wait_for 10 test -e "$E2E_TMP/srv4b" || fail "server did not restart"
start_trace small "$cli" --json --ring-bytes 4096
kill -STOP "${trace_pid[small]}"
ip netns exec "$cli" "$SHORT_CONNS" --connect 10.202.0.1:7000 --count 200 --over 0.2 >/dev/null ||
        fail "client, second round"
kill -CONT "${trace_pid[small]}"
sleep 0.5
kill -INT "${trace_pid[small]}"
wait "${trace_pid[small]}" || fail "a trace that lost events must still exit 0"
lost=$(sed -n 's/^netdep: warning: \([0-9]*\) events lost: the ring buffer was full.*/\1/p' "$E2E_TMP/small.err")
seen=$(wc -l <"$E2E_TMP/small.out")
[ -n "$lost" ] && [ "$lost" -gt 0 ] || { cat "$E2E_TMP/small.err" >&2; fail "lost events not reported"; }
[ $((lost + seen)) = 400 ] || fail "$seen events printed + $lost lost, expected 400 in all"
echo "ok: $lost lost events reported, $seen printed"

# The socket table is bounded (--max-sockets): connections past it are not
# followed and are counted, and a closed connection gives its entry back.
# 10 connections held open against a table of 4, closed, then 4 more.
ip netns exec "$srv" "$TCP_HOLD" --name holdsrv --listen 10.202.0.1:7300 --ready "$E2E_TMP/bound-srv" &
bound_srv=$!
wait_for 10 test -e "$E2E_TMP/bound-srv" || fail "holdsrv did not start"
start_trace bound "$cli" --json --max-sockets 4
ip netns exec "$cli" "$TCP_HOLD" --name holdcli --connect 10.202.0.1:7300:10 --ready "$E2E_TMP/bound-cli" &
bound_cli=$!
wait_for 10 test -e "$E2E_TMP/bound-cli" || fail "holdcli did not connect"
kill "$bound_cli"
wait "$bound_cli" || true
ip netns exec "$cli" "$TCP_HOLD" --name holdcli2 --connect 10.202.0.1:7300:4 --ready "$E2E_TMP/bound-cli2" &
bound_cli=$!
wait_for 10 test -e "$E2E_TMP/bound-cli2" || fail "holdcli2 did not connect"
kill "$bound_cli"
wait "$bound_cli" || true
sleep 0.3
kill -INT "${trace_pid[bound]}"
wait "${trace_pid[bound]}" || fail "trace with a bound exited non-zero"
kill "$bound_srv"
grep -q "^netdep: warning: 6 connections not followed: the socket table was full" "$E2E_TMP/bound.err" ||
        { cat "$E2E_TMP/bound.err" >&2; fail "connections past --max-sockets not reported as 6"; }
[ "$(count bound '.event == "connect" and .comm == "holdcli"')" = 4 ] || fail "held connects followed: not 4"
[ "$(count bound '.event == "close" and .comm == "holdcli"')" = 4 ] || fail "held closes followed: not 4"
[ "$(count bound '.event == "connect" and .comm == "holdcli2"')" = 4 ] ||
        fail "connections after the held ones closed: not all 4 followed (entries not given back)"
echo "ok: --max-sockets bounds the table, counts the rest, and entries come back"

# The table: a header, then a row per event.
head -1 "$E2E_TMP/cli-table.out" | grep -Eq "^Time +Event +Pid +Process +Local Address:Port +Peer Address:Port +Detail$" ||
        fail "table header"
grep -Eq "^[0-9:.]+ +connect +$client +sc-client +10\.202\.0\.2:[0-9]+ +10\.202\.0\.1:7000 *$" "$E2E_TMP/cli-table.out" ||
        fail "table connect row"
grep -Eq " failed +$refused +sc-refused +10\.202\.0\.2:[0-9]+ +10\.202\.0\.1:7001 +refused after " "$E2E_TMP/cli-table.out" ||
        fail "table failed row"
[ "$(grep -c ' connect ' "$E2E_TMP/cli-table.out")" = 2050 ] || fail "table connect rows"
echo "ok: table"
