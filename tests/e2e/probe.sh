#!/bin/bash
# The prober between two hosts joined by a veth pair, IPv4 and IPv6, from
# probe-run in host A: a listener in B answers every TCP probe and B
# answers every echo; 1 SYN in 5 dropped by nftables in B is lost=1 in
# each round of 5; the listener stopped is refused, not lost; a blackhole
# route in A, and B's link down, are lost (timeouts), not refused. A uses
# ping sockets (its ping_group_range lets root have them); the unit test
# covers raw sockets.
. "$(dirname "$0")/lib.sh"
: "${PROBE_RUN:?}"
command -v nft >/dev/null || { echo "missing nft (make test installs nftables)" >&2; exit 1; }

make_host a A
make_host b B
link_hosts "$A" 10.78.0.1 fd78::1 "$B" 10.78.0.2 fd78::2
ip netns exec "$A" sysctl -qw net.ipv4.ping_group_range="0 0"
dev_b=$(ip -n "$B" -o link show type veth | awk -F': ' '{print $2}' | cut -d@ -f1)

ip netns exec "$B" "$TCP_HOLD" --name probed --listen '[::]:8080' --ready "$E2E_TMP/ready" &
hold_pid=$!
wait_for 5 test -e "$E2E_TMP/ready" || fail "listener did not start"

# IPv6 on a veth just up drops packets for about a second: wait for an echo.
up() {
        ip netns exec "$A" "$PROBE_RUN" --interval-ms 200 --timeout-ms 100 --probes 1 "icmp:$1" |
                jq -e '.lost == 0' >/dev/null
}
wait_for 10 up fd78::2 || fail "no IPv6 between the hosts"
wait_for 10 up 10.78.0.2 || fail "no IPv4 between the hosts"

TARGETS=(tcp:10.78.0.2:8080 'tcp:[fd78::2]:8080' icmp:10.78.0.2 icmp:fd78::2)

# probe ROUNDS TARGET...: probe-run in A, 5 probes in rounds of 1 s, a
# probe lost after 300 ms (before TCP would send its SYN again at 1 s).
probe() {
        local rounds=$1
        shift
        ip netns exec "$A" "$PROBE_RUN" --interval-ms 1000 --timeout-ms 300 --probes 5 --rounds "$rounds" "$@" \
                >"$E2E_TMP/out" || fail "probe-run $*"
        cat "$E2E_TMP/out"
}

# expect KIND ADDR CONDITION WHAT: every round's line for that target
# satisfies the jq condition.
expect() {
        local kind=$1 addr=$2 cond=$3 what=$4
        jq -se --arg k "$kind" --arg a "$addr" \
                "map(select(.kind == \$k and .addr == \$a)) | length > 0 and all($cond)" \
                "$E2E_TMP/out" >/dev/null || fail "$what: $kind $addr, expected $cond"
}

answered='.sent == 5 and .lost == 0 and .refused == 0 and .rtt_p50_us >= 0 and .rtt_p99_us >= .rtt_p50_us'
refused='.sent == 5 and .lost == 0 and .refused == 5 and .rtt_p50_us == -1'
lost='.sent == 5 and .lost == 5 and .refused == 0 and .rtt_p50_us == -1'

probe 1 "${TARGETS[@]}"
for addr in 10.78.0.2 fd78::2; do
        expect tcp "$addr" "$answered" "listening"
        expect icmp "$addr" "$answered" "reachable"
done
jq -se 'all(.port == (if .kind == "tcp" then 8080 else 0 end))' "$E2E_TMP/out" >/dev/null || fail "ports"
echo "ok: TCP and ICMP answered, IPv4 and IPv6"

# One SYN in five dropped on B's way in: one probe lost in every round.
ip netns exec "$B" nft -f - <<NFT
table inet probe_loss {
        chain input {
                type filter hook input priority 0; policy accept;
                tcp dport 8080 tcp flags & (syn | ack) == syn numgen inc mod 5 == 0 drop
        }
}
NFT
probe 3 tcp:10.78.0.2:8080
[ "$(wc -l <"$E2E_TMP/out")" = 3 ] || fail "three rounds, three lines"
expect tcp 10.78.0.2 '.sent == 5 and .lost == 1 and .refused == 0 and .rtt_p50_us >= 0' "1 SYN in 5 dropped"
ip netns exec "$B" nft delete table inet probe_loss
echo "ok: 1 probe in 5 dropped is lost=1 in every round of 5"

kill "$hold_pid"
wait "$hold_pid" || true
wait_for 5 sh -c "! ip netns exec $B ss -Htln | grep -q ':8080'" || fail "listener did not stop"
probe 1 "${TARGETS[@]}"
for addr in 10.78.0.2 fd78::2; do
        expect tcp "$addr" "$refused" "listener stopped"
        expect icmp "$addr" "$answered" "listener stopped, host up"
done
echo "ok: a stopped listener is refused, not lost"

ip -n "$A" route add blackhole 10.78.0.2/32
ip -n "$A" -6 route add blackhole fd78::2/128
probe 1 "${TARGETS[@]}"
for addr in 10.78.0.2 fd78::2; do
        expect tcp "$addr" "$lost" "blackhole route"
        expect icmp "$addr" "$lost" "blackhole route"
done
ip -n "$A" route del blackhole 10.78.0.2/32
ip -n "$A" -6 route del blackhole fd78::2/128
echo "ok: a blackhole route is lost, not refused"

probe 1 "${TARGETS[@]}"
expect icmp 10.78.0.2 "$answered" "route back"
ip -n "$B" link set "$dev_b" down
probe 1 "${TARGETS[@]}"
for addr in 10.78.0.2 fd78::2; do
        expect tcp "$addr" "$lost" "peer's link down"
        expect icmp "$addr" "$lost" "peer's link down"
done
echo "ok: the peer's link down is lost, not refused"
