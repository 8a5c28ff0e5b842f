# Shared by the end-to-end scenarios: test hosts as network namespaces.
# Sourced; expects NETDEP and TCP_HOLD in the environment (meson sets them).

set -euo pipefail

if [ "$(id -u)" != 0 ]; then
        echo "SKIP: network namespaces need root" >&2
        exit 77
fi
for tool in ip jq; do
        command -v "$tool" >/dev/null || { echo "missing $tool (make test installs it)" >&2; exit 1; }
done

: "${NETDEP:?}" "${TCP_HOLD:?}"
E2E_TAG="nde$$"
E2E_NAMESPACES=()
E2E_TMP=$(mktemp -d)

e2e_cleanup() {
        local ns
        for ns in "${E2E_NAMESPACES[@]}"; do
                ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
        done
        sleep 0.2
        for ns in "${E2E_NAMESPACES[@]}"; do
                ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
                ip netns del "$ns" 2>/dev/null || true
        done
        rm -rf "$E2E_TMP"
}
trap e2e_cleanup EXIT

fail() {
        echo "FAIL: $*" >&2
        exit 1
}

# make_host NAME VAR: a namespace with loopback up; its full name goes into
# the variable VAR (not a subshell: the cleanup must know it).
make_host() {
        local ns="$E2E_TAG-$1"
        printf -v "$2" '%s' "$ns"
        ip netns add "$ns"
        E2E_NAMESPACES+=("$ns")
        ip -n "$ns" link set lo up
}

# link_hosts NS_A ADDR4_A ADDR6_A NS_B ADDR4_B ADDR6_B: a veth pair between
# them, with a /24 and a /64 (no DAD, so IPv6 is usable at once).
link_hosts() {
        local a=$1 a4=$2 a6=$3 b=$4 b4=$5 b6=$6
        local va="v${E2E_TAG}a${#E2E_NAMESPACES[@]}" vb="v${E2E_TAG}b${#E2E_NAMESPACES[@]}"
        ip link add "$va" netns "$a" type veth peer name "$vb" netns "$b"
        ip -n "$a" addr add "$a4/24" dev "$va"
        ip -n "$a" addr add "$a6/64" dev "$va" nodad
        ip -n "$b" addr add "$b4/24" dev "$vb"
        ip -n "$b" addr add "$b6/64" dev "$vb" nodad
        ip -n "$a" link set "$va" up
        ip -n "$b" link set "$vb" up
}

netns_inode() {
        stat -L -c %i "/run/netns/$1"
}

# wait_for SECONDS COMMAND...: retries until the command succeeds.
wait_for() {
        local deadline=$((SECONDS + $1))
        shift
        until "$@"; do
                [ "$SECONDS" -lt "$deadline" ] || return 1
                sleep 0.1
        done
}

# make_switch NAME VAR: a namespace holding a bridge that hosts attach to.
make_switch() {
        make_host "$1" "$2"
        ip -n "${!2}" link add br0 type bridge
        ip -n "${!2}" link set br0 up
}

# attach_host SWITCH_NS HOST_NS ADDR4: a veth from the host to the bridge.
attach_host() {
        local sw=$1 host=$2 addr=$3
        local n=${#E2E_NAMESPACES[@]} hv="h${E2E_TAG}" sv="s${E2E_TAG}"
        hv="${hv:0:10}${n}"
        sv="${sv:0:10}${n}"
        ip link add "$hv" netns "$host" type veth peer name "$sv" netns "$sw"
        ip -n "$sw" link set "$sv" master br0 up
        ip -n "$host" addr add "$addr/24" dev "$hv"
        ip -n "$host" link set "$hv" up
}

# make_fleet: the hosts in HOSTS plus srv, on one switch, at their ADDR
# (both arrays set by the caller); NS[host] their namespaces, in_ns HOST
# COMMAND to run there. Processes started into PIDS are stopped at exit
# (and ND_KEEP=DIR keeps the run's files).
make_fleet() {
        local h
        make_switch sw E2E_SWITCH
        declare -gA NS
        for h in "${HOSTS[@]}" srv; do
                make_host "$h" "NS[$h]"
                attach_host "$E2E_SWITCH" "${NS[$h]}" "${ADDR[$h]}"
        done
        PIDS=()
        trap 'stop_all; [ -z "${ND_KEEP:-}" ] || cp -r "$E2E_TMP" "$ND_KEEP"; e2e_cleanup' EXIT
}
in_ns() { local h=$1; shift; ip netns exec "${NS[$h]}" "$@"; }
stop_all() { [ ${#PIDS[@]} -eq 0 ] || kill "${PIDS[@]}" 2>/dev/null || true; }

# write_tokens [SCOPE]...: $E2E_TMP/tokens with an agent token for each of
# HOSTS and one token of each SCOPE given (reader, admin), each also in
# $E2E_TMP/token-NAME.
write_tokens() {
        local h t scope
        {
                for h in "${HOSTS[@]}"; do
                        t=$(head -c 24 /dev/urandom | base64 | tr '+/' '-_')
                        printf '%s\n' "$t" >"$E2E_TMP/token-$h"
                        echo "agent $t $h"
                done
                for scope in "$@"; do
                        t=$(head -c 24 /dev/urandom | base64 | tr '+/' '-_')
                        printf '%s\n' "$t" >"$E2E_TMP/token-$scope"
                        echo "$scope $t"
                done
        } >"$E2E_TMP/tokens"
        chmod 600 "$E2E_TMP/tokens"
}
