#!/bin/sh
# Does netdep's eBPF side load and work on this kernel? Run by the kernel
# matrix (kernel-matrix.sh) in a qemu guest that has busybox and nothing
# else, and natively on the running kernel: so POSIX sh and busybox tools
# only (no bash, jq or iproute2). Expects its own network namespace
# (unshare -n): it brings loopback up and uses fixed ports on it.
#
#   check-bpf.sh NETDEP SHORT_CONNS WORKDIR
#
# 1. `netdep trace --json` while a client opens 50 connections to a server
#    on 127.0.0.1 and 10 connects to a closed port are refused: the trace
#    must show exactly 50 `connect` and 10 `failed` events of the clients.
# 2. `netdep agent --mode hybrid` starts in hybrid mode with every eBPF
#    feature (no "hybrid mode without ...").
# 3. The trace's "eBPF programs loaded: K of T": K must be T ("?" while
#    netdep does not print it), and it runs without a feature switched off
#    (no "trace without ...").
#
# Prints what it did, then a last line
#   result: programs 5/5, connections 50/50, refused 10/10, hybrid ok (listing by nd_dump_open): PASS
# (or ": FAIL: <reasons>"). Exits 0 on PASS, 1 on FAIL.
set -eu

NETDEP=$1
SHORT_CONNS=$2
DIR=$3
CONNS=50
REFUSED=10
PORT=7000
CLOSED_PORT=7001
# Bounds of each wait, so that the whole check stays well inside the
# matrix's 180 s per boot even when every one of them runs out. Under
# qemu without KVM netdep loads in a few seconds.
READY_SECONDS=45

mkdir -p "$DIR"
failures=""
fail() { # REASON: remembered for the result line
        failures="${failures:+$failures; }$*"
        echo "check: FAIL: $*"
}

# Printed indented: netdep's own words on a failure, for the log.
show_tail() { # LINES FILE
        tail -n "$1" "$2" | sed 's/^/  | /'
}
# The last line of netdep's stderr, as a reason: without the program's
# name and the pointer to -vv (whose end is printed below it instead).
last_error() { # FILE
        tail -n 1 "$1" | sed 's/^netdep: error: //; s/ (run with -vv for libbpf.s log)$//'
}

# wait_until SECONDS COMMAND...: retries every 0.2 s until it succeeds.
wait_until() {
        tries=$(($1 * 5))
        shift
        while ! "$@"; do
                tries=$((tries - 1))
                [ "$tries" -gt 0 ] || return 1
                sleep 0.2
        done
}

alive() { kill -0 "$1" 2>/dev/null; }
has_line() { grep -qE "$1" "$2" 2>/dev/null; } # PATTERN FILE
trace_started() { has_line "tracing TCP events" "$DIR/trace.err" || ! alive "$trace"; }

# events KIND PID PORT: JSON lines of the trace with that event kind,
# process and peer port. The keys are matched one at a time, so their order
# in the line does not matter; the trailing comma ends the number.
events() {
        grep -F "\"event\":\"$1\"" "$DIR/trace.out" | grep -F "\"pid\":$2," | grep -cF "\"dport\":$3," || true
}
all_seen() {
        [ "$(events connect "$client" "$PORT")" -ge "$CONNS" ] &&
                [ "$(events failed "$refused" "$CLOSED_PORT")" -ge "$REFUSED" ]
}

echo "check: kernel $(uname -r)"
ip link set lo up

# The server, for the trace's connections and for the agent to adopt.
"$SHORT_CONNS" --name nd-server --listen "127.0.0.1:$PORT" --ready "$DIR/server.ready" &
server=$!
wait_until 10 test -e "$DIR/server.ready" || fail "short-conns server did not start"

programs="?"
listing="?"
connections="-"
refused_seen="-"
"$NETDEP" trace --json >"$DIR/trace.out" 2>"$DIR/trace.err" &
trace=$!
wait_until "$READY_SECONDS" trace_started || true
if ! has_line "tracing TCP events" "$DIR/trace.err"; then
        kill "$trace" 2>/dev/null || true
        wait "$trace" || true
        fail "trace: $(last_error "$DIR/trace.err")"
        # libbpf's log says which program the verifier refused, and why.
        echo "check: the end of \`netdep trace -vv\`:"
        timeout 30 "$NETDEP" trace -vv >/dev/null 2>"$DIR/trace-vv.err" || true
        show_tail 25 "$DIR/trace-vv.err"
else
        "$SHORT_CONNS" --name nd-client --connect "127.0.0.1:$PORT" --count "$CONNS" --over 1 \
                >"$DIR/client.out" 2>&1 &
        client=$!
        wait "$client" || fail "client: $(cat "$DIR/client.out")"
        "$SHORT_CONNS" --name nd-refused --connect "127.0.0.1:$CLOSED_PORT" --count "$REFUSED" --over 0.2 \
                --expect refused >"$DIR/refused.out" 2>&1 &
        refused=$!
        wait "$refused" || fail "refused client: $(cat "$DIR/refused.out")"

        # The events are in the ring buffer by now; let the trace drain it.
        wait_until 10 all_seen || true
        kill -INT "$trace"
        rc=0
        wait "$trace" || rc=$?
        [ "$rc" = 0 ] || { fail "trace exited $rc after SIGINT"; show_tail 5 "$DIR/trace.err"; }
        if has_line "lost|not followed|malformed" "$DIR/trace.err"; then
                fail "trace lost events"
                show_tail 5 "$DIR/trace.err"
        fi
        # A feature switched off on this kernel: "trace without <feature>".
        if has_line "without" "$DIR/trace.err"; then
                fail "trace: $(grep "without" "$DIR/trace.err" | head -n 1 | sed 's/^netdep: [a-z]*: //')"
        fi

        connections=$(events connect "$client" "$PORT")
        refused_seen=$(events failed "$refused" "$CLOSED_PORT")
        [ "$connections" = "$CONNS" ] || fail "$connections connect events, expected $CONNS"
        [ "$refused_seen" = "$REFUSED" ] || fail "$refused_seen failed events, expected $REFUSED"
        echo "check: $(wc -l <"$DIR/trace.out") events in all"
fi

# "eBPF programs loaded: K of T", from a trace that loaded or one that did not.
loaded=$(sed -n 's/.*eBPF programs loaded: \([0-9]*\) of \([0-9]*\).*/\1\/\2/p' "$DIR/trace.err" | head -n 1)
if [ -n "$loaded" ]; then
        programs=$loaded
        [ "${loaded%/*}" = "${loaded#*/}" ] || fail "trace: only ${loaded%/*} of ${loaded#*/} eBPF programs loaded"
fi

# The agent in hybrid mode, once: it loads every eBPF program (the core,
# listener seeding, adoption, the listing), adopts what is open and lists
# it; it must say hybrid with nothing switched off.
hybrid="failed"
rc=0
"$NETDEP" db migrate --store "sqlite:$DIR/m.db" >"$DIR/migrate.out" 2>&1 || rc=$?
if [ "$rc" != 0 ]; then
        fail "db migrate exited $rc"
        show_tail 5 "$DIR/migrate.out"
else
        timeout "$READY_SECONDS" "$NETDEP" agent --mode hybrid --once --store "sqlite:$DIR/m.db" \
                >"$DIR/agent.out" 2>"$DIR/agent.err" || rc=$?
        agent_loaded=$(sed -n 's/.*agent: hybrid mode (eBPF programs loaded: \([0-9]*\) of \([0-9]*\)).*/\1\/\2/p' \
                "$DIR/agent.err" | head -n 1)
        if [ "$rc" != 0 ]; then
                fail "agent exited $rc: $(last_error "$DIR/agent.err")"
        elif has_line "without" "$DIR/agent.err"; then
                fail "agent: $(grep "without" "$DIR/agent.err" | head -n 1)"
        elif [ -z "$agent_loaded" ]; then
                fail "agent not in hybrid mode: $(grep "mode" "$DIR/agent.err" | head -n 1)"
        elif [ "${agent_loaded%/*}" != "${agent_loaded#*/}" ]; then
                fail "agent: only ${agent_loaded%/*} of ${agent_loaded#*/} eBPF programs loaded"
        else
                hybrid="ok"
                programs=$agent_loaded
                # Which of the listing's ways this kernel takes (docs/bpf.md).
                listing=$(sed -n 's/.*listed from the sockets eBPF follows (\([a-z_]*\)).*/\1/p' "$DIR/agent.err" |
                        head -n 1)
        fi
fi

kill "$server" 2>/dev/null || true
wait "$server" || true

summary="programs $programs, connections $connections/$CONNS, refused $refused_seen/$REFUSED, hybrid $hybrid (listing by $listing)"
if [ -n "$failures" ]; then
        echo "result: $summary: FAIL: $failures"
        exit 1
fi
echo "result: $summary: PASS"
