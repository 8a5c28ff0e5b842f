#!/bin/bash
# The stored graph tells the truth, with real programs: a real PostgreSQL
# server, python3's http.server, psql, curl and nc clients, in namespaces
# on one bridge, agents on every host but mon writing to the store named
# by $ND_TEST_STORE (a fresh SQLite file when unset). Every node and edge of
# look's tree, graph's JSON and DOT, and impact's list is checked.
#
#   lb1   10.77.0.30  curl (a loop) and nc  --> app1:8080 (python3 http.server)
#   app1  10.77.0.21  psql --> db1:5432 (postgres); nc, nc --> mon:9100
#   db1   10.77.0.10  postgres
#   mon   10.77.0.40  a listener on :9100; no agent
. "$(dirname "$0")/lib.sh"

PG_BIN=${ND_TEST_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)}
for tool in "$PG_BIN/initdb" "$PG_BIN/pg_ctl" psql curl nc /usr/bin/python3; do
        [ -x "$tool" ] || command -v "$tool" >/dev/null ||
                { echo "SKIP: $tool is missing (make test installs it)" >&2; exit 77; }
done
id postgres >/dev/null 2>&1 || { echo "SKIP: no postgres user to run the server as" >&2; exit 77; }

if [ -z "${ND_TEST_STORE:-}" ]; then
        ND_TEST_STORE="sqlite:$E2E_TMP/graph.db"
fi
STORE=$ND_TEST_STORE
nd() { "$NETDEP" "$@" --store "$STORE"; }
nd db migrate >/dev/null

make_switch sw sw
declare -A ADDR=([lb]=10.77.0.30 [app]=10.77.0.21 [db]=10.77.0.10 [mon]=10.77.0.40)
declare -A NS
for h in lb app db mon; do
        make_host "$h" "NS[$h]"
        attach_host "$sw" "${NS[$h]}" "${ADDR[$h]}"
done
in_ns() { local h=$1; shift; ip netns exec "${NS[$h]}" "$@"; }

# db: a throwaway PostgreSQL cluster that listens on db's address.
PGDATA=$E2E_TMP/pg
install -d -o postgres "$PGDATA"
chmod 755 "$E2E_TMP"
runuser -u postgres -- "$PG_BIN/initdb" -D "$PGDATA/data" --auth=trust >/dev/null
echo "host all all 10.77.0.0/24 trust" >>"$PGDATA/data/pg_hba.conf"
in_ns db runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PGDATA/data" -l "$PGDATA/log" -w \
        -o "-c listen_addresses=10.77.0.10 -c unix_socket_directories=$PGDATA" start >/dev/null
stop_pg() { in_ns db runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PGDATA/data" -m immediate stop >/dev/null 2>&1 || true; }
trap 'stop_pg; e2e_cleanup' EXIT
postmaster=$(head -n 1 "$PGDATA/data/postmaster.pid")
postmaster_pgid=$(ps -o pgid= -p "$postmaster" | tr -d ' ')

# mon: a listener; app1: http.server, psql, two nc. Each client runs in a
# process group of its own (setsid), as a shell's job would.
in_ns mon "$TCP_HOLD" --name listener --listen 0.0.0.0:9100 --ready "$E2E_TMP/mon" &
wait_for 10 test -e "$E2E_TMP/mon" || fail "mon's listener did not start"
in_ns app setsid /usr/bin/python3 -m http.server 8080 --bind 10.77.0.21 --directory "$E2E_TMP" \
        >/dev/null 2>&1 &
wait_for 10 in_ns lb curl -sf -o /dev/null http://10.77.0.21:8080/ || fail "http.server did not start"
in_ns app setsid psql -h 10.77.0.10 -U postgres -d postgres -qc "select pg_sleep(120)" >/dev/null 2>&1 &
in_ns app setsid nc 10.77.0.40 9100 </dev/null >/dev/null 2>&1 &
in_ns app setsid nc 10.77.0.40 9100 </dev/null >/dev/null 2>&1 &
# lb1: curl in a bounded loop (300 requests, 0.2 s apart), and nc held open.
in_ns lb setsid bash -c 'for i in $(seq 300); do curl -s -o /dev/null http://10.77.0.21:8080/; sleep 0.2; done' &
in_ns lb setsid nc 10.77.0.21 8080 </dev/null >/dev/null 2>&1 &

AGENTS=()
for h in lb app db; do
        name=$h; [ "$h" = app ] && name=app1; [ "$h" = lb ] && name=lb1; [ "$h" = db ] && name=db1
        ip netns exec "${NS[$h]}" "$NETDEP" agent --store "$STORE" --hostname "$name" \
                --interval 100ms --flush-interval 1s 2>"$E2E_TMP/agent-$h.log" &
        AGENTS+=($!)
done

expect_line() { # PATTERN TEXT WHAT
        grep -Eq -- "$1" <<<"$2" || { echo "$2" >&2; fail "$3: no line matching '$1'"; }
}
ready() {
        local t
        t=$(nd look --host db1 --direction in --depth 3 2>/dev/null) || return 1
        grep -q "(curl" <<<"$t" && grep -q "(nc" <<<"$t" && grep -q "(psql" <<<"$t" &&
                nd look --host app1 --direction out 2>/dev/null | grep -q "10.77.0.40:9100"
}
wait_for 30 ready || { nd look --host db1 --direction in --depth 3 >&2 || true; fail "agents did not fill the store"; }
sleep 2 # a few more flushes: both nc processes and both views of each edge
echo "ok: agents filled the store"

# look, in: db1's postgres (the postmaster's group, not a backend's), used
# by app1's psql, which lb1's curl and nc reach through python3 on :8080.
t=$(nd look --host db1 --direction in --depth 3)
expect_line "^db1 10\.77\.0\.10:5432 \(postgres, pgid $postmaster_pgid\)$" "$t" "look in: the server is the postmaster"
expect_line '^└<-- app1 10\.77\.0\.21:many \(psql, pgid [0-9]+\)  connections 1$' "$t" "look in: psql"
expect_line '^     ├<-- lb1 10\.77\.0\.30:many \(curl, pgid [0-9]+\)  connections [0-9]+(  opened [0-9]+)?  to :8080 \(python3\)$' "$t" "look in: curl"
expect_line '^     └<-- lb1 10\.77\.0\.30:many \(nc, pgid [0-9]+\)  connections 1  to :8080 \(python3\)$' "$t" "look in: nc"
[ "$(wc -l <<<"$t")" = 4 ] || { echo "$t" >&2; fail "look in: exactly 4 lines"; }
echo "ok: look in"

# look, out from lb1: below app1's server each call names the app1 process
# that makes it; python3 makes none.
t=$(nd look --host lb1 --direction out --depth 3)
expect_line '^     ├--> db1 10\.77\.0\.10:5432 \(postgres, pgid [0-9]+\)  connections 1  by psql$' "$t" "look out: psql's call"
expect_line '^     └--> 10\.77\.0\.40:9100 \(\?\)  connections 2  by nc$' "$t" "look out: nc's calls"
grep -q "by python3" <<<"$t" && { echo "$t" >&2; fail "look out: python3 makes no call"; }
echo "ok: look out"

# graph JSON: exactly these endpoints and edges.
j=$(nd graph --format json)
edges=$(jq -r '.nodes as $n | .edges[] | "\($n[.client].label)|\($n[.client].process)|\($n[.client].processes) -> \($n[.server].label):\($n[.server].port)|\($n[.server].process)"' <<<"$j" | sort)
expected="10.77.0.21|nc|2 -> 10.77.0.40:9100|null
10.77.0.21|psql|1 -> 10.77.0.10:5432|postgres
10.77.0.30|curl|1 -> 10.77.0.21:8080|python3
10.77.0.30|nc|1 -> 10.77.0.21:8080|python3"
[ "$edges" = "$expected" ] || { printf 'got:\n%s\nwant:\n%s\n' "$edges" "$expected" >&2; fail "graph json: the edges"; }
[ "$(jq '.nodes | length' <<<"$j")" = 7 ] || fail "graph json: 7 endpoints"
jq -e '[.edges[] | .current and .first_seen <= .last_seen and .age_s >= 0] | all' <<<"$j" >/dev/null ||
        fail "graph json: every edge is current, with its times"
jq -e '[.nodes[] | select(.label == "10.77.0.10") | .name] == ["db1"]' <<<"$j" >/dev/null || fail "graph json: names"
echo "ok: graph json"

# DOT: the same endpoints, each once; app1's two nc are one node "nc ×2".
d=$(nd graph --format dot)
[ "$(grep -c '^ *n[0-9]* \[label=' <<<"$d")" = 7 ] || { echo "$d" >&2; fail "graph dot: 7 nodes"; }
grep -q 'label="app1 10.77.0.21\\nnc ×2"' <<<"$d" || { echo "$d" >&2; fail "graph dot: nc ×2"; }
grep -q 'label="app1 10.77.0.21:8080\\npython3, pgid [0-9]*"' <<<"$d" || { echo "$d" >&2; fail "graph dot: python3 serves :8080"; }
[ "$(grep -c ' -> ' <<<"$d")" = 4 ] || { echo "$d" >&2; fail "graph dot: 4 edges"; }
if command -v dot >/dev/null; then
        svg=$(nd graph --format svg) || fail "graph svg: exit status"
        grep -q '<svg' <<<"$svg" || fail "graph svg"
fi
nd graph --format mermaid | head -n 1 | grep -qx 'flowchart LR' || fail "graph mermaid"
echo "ok: graph dot, svg and mermaid"

# impact: db1's dependents are exactly app1 (1 hop) and lb1 (2 hops).
t=$(nd impact db1)
expect_line '^1      1       app1 10\.77\.0\.21$' "$t" "impact"
expect_line '^2      1       lb1 10\.77\.0\.30$' "$t" "impact"
expect_line '^total: 2 hosts depend on db1, within 2 hops$' "$t" "impact"
[ "$(nd impact db1 --format json | jq -r '[.items[].label] | join(",")')" = "10.77.0.21,10.77.0.30" ] ||
        fail "impact json"
t=$(nd impact lb1 --reverse)
expect_line '^total: lb1 depends on 3 hosts, within 2 hops$' "$t" "impact --reverse"
echo "ok: impact"

kill -TERM "${AGENTS[@]}"
for pid in "${AGENTS[@]}"; do
        wait "$pid" || fail "agent $pid exited $?"
done
echo "ok: agents stop cleanly"
