#!/bin/bash
# Two hosts joined by a veth pair. The server host listens on 3 ports held by
# 2 processes; the client host's 2 processes open known numbers of
# connections over IPv4 and IPv6. `netdep flows --json` in each namespace
# must equal that truth exactly, and --all-netns from the root namespace
# must see both hosts.
. "$(dirname "$0")/lib.sh"

make_host srv srv
make_host cli cli
link_hosts "$srv" 10.201.0.1 fd77::1 "$cli" 10.201.0.2 fd77::2

# srv-web: 8080 dual stack, 8443 IPv4 only. srv-db: 5432 dual stack.
ip netns exec "$srv" "$TCP_HOLD" --name srv-web --listen '[::]:8080' --listen 0.0.0.0:8443 &
web_pid=$!
ip netns exec "$srv" "$TCP_HOLD" --name srv-db --listen '[::]:5432' &
db_pid=$!
wait_for 5 sh -c "ip netns exec $srv ss -Htln | grep -q ':5432'" || fail "server did not start"
wait_for 5 sh -c "ip netns exec $srv ss -Htln | grep -q ':8443'" || fail "server did not start"

ip netns exec "$cli" "$TCP_HOLD" --name cli-app --ready "$E2E_TMP/app" \
        --connect 10.201.0.1:8080:3 --connect '[fd77::1]:8080:2' --connect 10.201.0.1:5432:4 &
app_pid=$!
ip netns exec "$cli" "$TCP_HOLD" --name cli-job --ready "$E2E_TMP/job" \
        --connect 10.201.0.1:8443:5 --connect '[fd77::1]:5432:1' &
job_pid=$!
wait_for 10 test -e "$E2E_TMP/app" -a -e "$E2E_TMP/job" || fail "clients did not connect"

# The comparable part of a flow: no RTTs, which vary.
normalise='[.[] | {direction, local, peer, connections, process: .process.name, pid: .process.pid}] | sort_by(.direction, .local.addr, .local.port, .peer.addr, .peer.port, .process)'

expected_srv=$(jq -c "$normalise" <<EOF2
[
 {"direction":"passive","local":{"addr":"10.201.0.1","port":8080},"peer":{"addr":"10.201.0.2","port":null},"connections":3,"process":{"name":"srv-web","pid":$web_pid}},
 {"direction":"passive","local":{"addr":"fd77::1","port":8080},"peer":{"addr":"fd77::2","port":null},"connections":2,"process":{"name":"srv-web","pid":$web_pid}},
 {"direction":"passive","local":{"addr":"10.201.0.1","port":8443},"peer":{"addr":"10.201.0.2","port":null},"connections":5,"process":{"name":"srv-web","pid":$web_pid}},
 {"direction":"passive","local":{"addr":"10.201.0.1","port":5432},"peer":{"addr":"10.201.0.2","port":null},"connections":4,"process":{"name":"srv-db","pid":$db_pid}},
 {"direction":"passive","local":{"addr":"fd77::1","port":5432},"peer":{"addr":"fd77::2","port":null},"connections":1,"process":{"name":"srv-db","pid":$db_pid}}
]
EOF2
)
expected_cli=$(jq -c "$normalise" <<EOF2
[
 {"direction":"active","local":{"addr":"10.201.0.2","port":null},"peer":{"addr":"10.201.0.1","port":8080},"connections":3,"process":{"name":"cli-app","pid":$app_pid}},
 {"direction":"active","local":{"addr":"fd77::2","port":null},"peer":{"addr":"fd77::1","port":8080},"connections":2,"process":{"name":"cli-app","pid":$app_pid}},
 {"direction":"active","local":{"addr":"10.201.0.2","port":null},"peer":{"addr":"10.201.0.1","port":5432},"connections":4,"process":{"name":"cli-app","pid":$app_pid}},
 {"direction":"active","local":{"addr":"10.201.0.2","port":null},"peer":{"addr":"10.201.0.1","port":8443},"connections":5,"process":{"name":"cli-job","pid":$job_pid}},
 {"direction":"active","local":{"addr":"fd77::2","port":null},"peer":{"addr":"fd77::1","port":5432},"connections":1,"process":{"name":"cli-job","pid":$job_pid}}
]
EOF2
)

flows_in() { # NS [ARGS...]: netdep flows --json in a namespace
        local ns=$1
        shift
        ip netns exec "$ns" "$NETDEP" flows --json "$@"
}

# The server may still be accepting the last connections: wait until it has
# all 15, then compare exactly.
srv_total() { [ "$(flows_in "$srv" | jq '[.[].connections] | add')" = 15 ]; }
wait_for 5 srv_total || true

check_equal() { # WHAT EXPECTED ACTUAL_JSON
        local got
        got=$(jq -c "$normalise" <<<"$3")
        if [ "$got" != "$2" ]; then
                echo "expected: $2" >&2
                echo "got:      $got" >&2
                fail "$1"
        fi
        echo "ok: $1"
}

srv_json=$(flows_in "$srv")
cli_json=$(flows_in "$cli")
check_equal "server host flows" "$expected_srv" "$srv_json"
check_equal "client host flows" "$expected_cli" "$cli_json"

# Every flow carries its namespace, tcp figures that make sense, and the
# folded side's port is null.
srv_ino=$(netns_inode "$srv")
cli_ino=$(netns_inode "$cli")
jq -e --argjson ino "$srv_ino" 'all(.[]; .netns == $ino)' <<<"$srv_json" >/dev/null || fail "server netns inode"
jq -e --argjson ino "$cli_ino" 'all(.[]; .netns == $ino)' <<<"$cli_json" >/dev/null || fail "client netns inode"
jq -e 'all(.[]; .tcp.rtt_us_min <= .tcp.rtt_us_avg and .tcp.rtt_us_avg <= .tcp.rtt_us_max and .tcp.retrans >= 0)' \
        <<<"$srv_json" >/dev/null || fail "tcp figures"
jq -e 'all(.[]; .process.pgid > 0)' <<<"$cli_json" >/dev/null || fail "pgid"
echo "ok: netns, tcp and pgid fields"

# The table: PRODUCT.md's shape.
table=$(ip netns exec "$cli" "$NETDEP" flows)
grep -Eq "^10\.201\.0\.2:many +--> +10\.201\.0\.1:8443 +5 +cli-job \(pid $job_pid\)$" <<<"$table" ||
        { echo "$table" >&2; fail "table row for cli-job"; }
table=$(ip netns exec "$srv" "$NETDEP" flows)
grep -Eq "^\[fd77::1\]:8080 +<-- +\[fd77::2\]:many +2 +srv-web \(pid $web_pid\)$" <<<"$table" ||
        { echo "$table" >&2; fail "table row for srv-web"; }
echo "ok: table rows"

# The /proc/net/tcp fallback folds the same flows, without tcp figures.
check_equal "server flows from /proc/net/tcp" "$expected_srv" "$(flows_in "$srv" --source proc)"
check_equal "client flows from /proc/net/tcp" "$expected_cli" "$(flows_in "$cli" --source proc)"
flows_in "$srv" --source proc | jq -e 'all(.[]; .tcp == null)' >/dev/null || fail "procfs tcp must be null"

# Without process attribution: same flows, process null.
flows_in "$srv" --no-processes | jq -e 'length == 5 and all(.[]; .process == null)' >/dev/null ||
        fail "--no-processes"
echo "ok: --no-processes"

# --all-netns from the root namespace sees both hosts, each tagged.
all_json=$("$NETDEP" flows --all-netns --json)
check_equal "--all-netns: server part" "$expected_srv" \
        "$(jq --argjson ino "$srv_ino" '[.[] | select(.netns == $ino)]' <<<"$all_json")"
check_equal "--all-netns: client part" "$expected_cli" \
        "$(jq --argjson ino "$cli_ino" '[.[] | select(.netns == $ino)]' <<<"$all_json")"
# The table names a namespace as `ip netns` does, not by its inode.
"$NETDEP" flows --all-netns | grep -q "^$cli " || fail "--all-netns table names the netns"
"$NETDEP" flows --all-netns | grep -q "^$cli_ino " && fail "--all-netns table shows a named netns's inode"

# agent --all-netns: every namespace's addresses are the host's, a named
# namespace's under its `ip netns` name, so that `look --host NAME` finds
# its edges. An unnamed namespace with an address: the host's.
unshare -n sh -c 'ip link add d0 type veth peer name d1 && ip addr add 10.201.9.9/32 dev d0 && ip link set d0 up &&
        touch "$1" && exec sleep 60' sh "$E2E_TMP/unnamed" &
unnamed=$!
wait_for 5 test -e "$E2E_TMP/unnamed" || fail "unnamed namespace"
agent_db=$E2E_TMP/agent-netns.db
"$NETDEP" db migrate --store "sqlite:$agent_db" >/dev/null
"$NETDEP" agent --all-netns --once --hostname e2e-host --store "sqlite:$agent_db" --mode polling \
        2>"$E2E_TMP/agent.log" || { cat "$E2E_TMP/agent.log" >&2; fail "agent --all-netns --once"; }
kill "$unnamed"
hosts=$(sqlite3 "$agent_db" "SELECT addr || ' ' || hostname FROM hosts ORDER BY addr")
for want in "10.201.0.1 $srv" "fd77::1 $srv" "10.201.0.2 $cli" "fd77::2 $cli" "10.201.9.9 e2e-host"; do
        grep -qx "$want" <<<"$hosts" || { echo "$hosts" >&2; fail "hosts: no '$want'"; }
done
t=$("$NETDEP" look --host "$srv" --direction in --store "sqlite:$agent_db") || fail "look --host $srv"
grep -Eq "^$srv 10\.201\.0\.1:8443 \(srv-web, pgid [0-9]+\)$" <<<"$t" || { echo "$t" >&2; fail "look --host $srv: 8443"; }
grep -Eq "<-- $cli 10\.201\.0\.2:many \(cli-job, pgid [0-9]+\)  connections 5$" <<<"$t" ||
        { echo "$t" >&2; fail "look --host $srv: the edge from cli-job"; }
t=$("$NETDEP" look --host "$cli" --direction out --store "sqlite:$agent_db") || fail "look --host $cli"
grep -Eq "> $srv 10\.201\.0\.1:8443 \(srv-web, pgid [0-9]+\)  connections 5$" <<<"$t" ||
        { echo "$t" >&2; fail "look --host $cli: the edge to srv-web"; }
echo "ok: agent --all-netns: look --host finds a namespace by its name"

# Filters: every peer here is private.
flows_in "$srv" --filter public | jq -e 'length == 0' >/dev/null || fail "--filter public"
flows_in "$srv" --filter private | jq -e 'length == 5' >/dev/null || fail "--filter private"
echo "ok: filters"

# A client disconnects: its flows go, the others stay.
kill "$job_pid"
gone() { [ "$(flows_in "$cli" | jq 'length')" = 3 ]; }
wait_for 5 gone || fail "flows of an exited client must vanish"
echo "ok: exited client's flows vanish"
