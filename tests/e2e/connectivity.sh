#!/bin/bash
# The connectivity loop with real parts: six hosts in namespaces on one
# switch; agents discover the graph, fetch their peer lists from serve,
# probe their links every 2 s (TCP and ICMP), and report with their load
# and, on web1, a real nginx's rates. Then:
#   - the three queries of docs/connectivity.md give the expected rows;
#   - one probe in five dropped (nftables), round after round: no alert;
#   - the cache's service stopped: its links show "refused", not loss;
#   - db1's link cut: loss within 2 rounds, then `check` CRITICAL naming
#     db1; restored: the alert clears;
#   - `query` refuses DROP, ATTACH and PRAGMA writes, and cuts a runaway
#     query at 1 s, with nothing changed;
#   - a second server, which the first passes every report on to, answers
#     `check` the same;
#   - `check` is UNKNOWN once the server cannot answer.
#
#   web1 10.88.0.11  nginx :80; holds connections to db1:5432, cache1:6379
#   web2 10.88.0.12  the same connections; asks web1's nginx
#   web3 10.88.0.13  the same connections
#   db1  10.88.0.21  a listener on :5432
#   cache1 10.88.0.22  a listener on :6379
#   srv  10.88.0.2   netdep serve (SQLite store), tokens, probe kind both, on
#                    :8470 for the agents, passing reports on to :8471
. "$(dirname "$0")/lib.sh"

for tool in curl nft; do
        command -v "$tool" >/dev/null || { echo "SKIP: $tool is missing (make test installs it)" >&2; exit 77; }
done
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || { echo "SKIP: no nginx (make deps installs it)" >&2; exit 77; }

declare -A ADDR=([web1]=10.88.0.11 [web2]=10.88.0.12 [web3]=10.88.0.13 [db1]=10.88.0.21 [cache1]=10.88.0.22
                 [srv]=10.88.0.2)
HOSTS=(web1 web2 web3 db1 cache1)
make_fleet
write_tokens reader admin

STORE="sqlite:$E2E_TMP/netdep.db"
cat >"$E2E_TMP/roles" <<'ROLES'
10.88.0.8/29   shop:web    dc=east
10.88.0.21     shop:db     dc=west
10.88.0.22     shop:cache  dc=west
ROLES
"$NETDEP" db migrate --store "$STORE" >/dev/null
"$NETDEP" roles import "$E2E_TMP/roles" --store "$STORE" >/dev/null

SERVER=http://10.88.0.2:8470
SERVER_B=http://10.88.0.2:8471
"$NETDEP" db migrate --store "sqlite:$E2E_TMP/b.db" >/dev/null
"$NETDEP" roles import "$E2E_TMP/roles" --store "sqlite:$E2E_TMP/b.db" >/dev/null
ip netns exec "${NS[srv]}" "$NETDEP" serve --store "$STORE" --listen 10.88.0.2:8470 --tokens "$E2E_TMP/tokens" \
        --probe-kind both --live-peers "$SERVER_B" --live-peer-token-file "$E2E_TMP/token-admin" \
        2>"$E2E_TMP/serve.log" &
SERVE=$!
PIDS+=($SERVE)
ip netns exec "${NS[srv]}" "$NETDEP" serve --store "sqlite:$E2E_TMP/b.db" --listen 10.88.0.2:8471 \
        --tokens "$E2E_TMP/tokens" 2>"$E2E_TMP/serve-b.log" &
PIDS+=($!)
wait_for 20 in_ns srv curl -sf "$SERVER/readyz" -o /dev/null || { cat "$E2E_TMP/serve.log" >&2; fail "serve did not start"; }
wait_for 20 in_ns srv curl -sf "$SERVER_B/readyz" -o /dev/null || { cat "$E2E_TMP/serve-b.log" >&2; fail "serve B did not start"; }

# The services, nginx on web1, then the clients.
in_ns db1 "$TCP_HOLD" --name postgres --listen 0.0.0.0:5432 --ready "$E2E_TMP/db1" &
PIDS+=($!)
start_cache() {
        # Not through in_ns: $! must be the listener itself.
        ip netns exec "${NS[cache1]}" "$TCP_HOLD" --name redis --listen 0.0.0.0:6379 --ready "$E2E_TMP/cache1" &
        CACHE=$!
        PIDS+=($CACHE)
        wait_for 10 test -e "$E2E_TMP/cache1" || fail "cache listener"
}
start_cache
wait_for 10 test -e "$E2E_TMP/db1" || fail "db listener"

mkdir -p "$E2E_TMP/www" "$E2E_TMP/temp"
echo hello >"$E2E_TMP/www/index.html"
cat >"$E2E_TMP/nginx.conf" <<CONF
user root;
worker_processes 1;
pid $E2E_TMP/nginx.pid;
error_log $E2E_TMP/nginx-error.log;
events { worker_connections 64; }
http {
        access_log $E2E_TMP/access.log;
        client_body_temp_path $E2E_TMP/temp/body;
        proxy_temp_path $E2E_TMP/temp/proxy;
        fastcgi_temp_path $E2E_TMP/temp/fastcgi;
        uwsgi_temp_path $E2E_TMP/temp/uwsgi;
        scgi_temp_path $E2E_TMP/temp/scgi;
        server {
                listen 0.0.0.0:80;
                root $E2E_TMP/www;
                location = /nginx_status { stub_status; access_log off; allow 127.0.0.1; deny all; }
                location = /broken { return 502; }
        }
}
CONF
in_ns web1 "$NGINX" -c "$E2E_TMP/nginx.conf" -p "$E2E_TMP" -e "$E2E_TMP/nginx-error.log" -g 'daemon off;' &
PIDS+=($!)
wait_for 10 in_ns web1 curl -sf -o /dev/null http://127.0.0.1/nginx_status || fail "nginx did not start"

for h in web1 web2 web3; do
        in_ns "$h" "$TCP_HOLD" --name app --connect 10.88.0.21:5432:2 --connect 10.88.0.22:6379:1 \
                --ready "$E2E_TMP/app-$h" &
        PIDS+=($!)
done
for h in web1 web2 web3; do wait_for 10 test -e "$E2E_TMP/app-$h" || fail "$h's connections"; done

for h in "${HOSTS[@]}"; do
        extra=()
        [ "$h" != web1 ] || extra=(--nginx-status http://127.0.0.1/nginx_status --nginx-access-log "$E2E_TMP/access.log")
        ip netns exec "${NS[$h]}" "$NETDEP" agent -v --server "$SERVER" --token-file "$E2E_TMP/token-$h" \
                --hostname "$h" --mode polling --interval 500ms --flush-interval 1s --spool-dir "$E2E_TMP/spool-$h" \
                --probe-interval 2s --probe-timeout 400ms --peers-interval 2s "${extra[@]}" \
                2>"$E2E_TMP/agent-$h.log" &
        PIDS+=($!)
done

q() { in_ns srv "$NETDEP" query --server "$SERVER" --token-file "$E2E_TMP/token-reader" "$@"; }
check() { in_ns srv "$NETDEP" check --server "$SERVER" --token-file "$E2E_TMP/token-reader" "$@"; }
count() { q -f csv "$1" | tail -n +2 | tr -d '\r'; }
count_b() { q --server "$SERVER_B" -f csv "$1" | tail -n +2 | tr -d '\r'; }

# Each web host: tcp to db1:5432 and cache1:6379, icmp to both: 12 links.
# (web2's requests to web1's nginx, once made, are links of their own.)
SERVICES="dst IN ('10.88.0.21', '10.88.0.22')"
all_ok() { [ "$(count "SELECT count(*) FROM links WHERE $SERVICES AND state = 'ok'")" = 12 ]; }
wait_for 60 all_ok || { q "SELECT * FROM links" >&2; cat "$E2E_TMP/agent-web1.log" >&2; fail "12 links ok"; }
out=$(check) || fail "check on a healthy fleet: $out"
grep -q "^NETDEP OK - fleet: 5 hosts, 12 links up |" <<<"$out" || fail "check: $out"
echo "ok: five agents probe the 12 links of the graph; $out"
b_ok() { [ "$(count_b "SELECT count(*) FROM links WHERE $SERVICES AND state = 'ok'")" = 12 ]; }
wait_for 10 b_ok || { cat "$E2E_TMP/serve.log" >&2; fail "the second server's live state"; }
echo "ok: the second server holds the same 12 links, passed on by the first"

# A real nginx's rates arrive: 60 requests from web2, 10 of them 502.
for ((i = 0; i < 50; i++)); do echo "url = \"http://10.88.0.11/?n=$i\""; echo 'output = "/dev/null"'; done >"$E2E_TMP/curl.cfg"
for ((i = 0; i < 10; i++)); do echo 'url = "http://10.88.0.11/broken"'; echo 'output = "/dev/null"'; done >>"$E2E_TMP/curl.cfg"
in_ns web2 curl -s -K "$E2E_TMP/curl.cfg"
rates() { [ "$(count "SELECT nginx_request_rate > 0 AND nginx_error_rate > 0 FROM hosts WHERE name = 'web1'")" = 1 ]; }
wait_for 10 rates || { q "SELECT name, nginx_request_rate, nginx_error_rate FROM hosts" >&2; fail "nginx rates"; }
[ "$(count "SELECT count(*) FROM nginx_errors WHERE host = 'web1' AND status = 502 AND rate > 0")" = 1 ] ||
        fail "web1's 502 rate"
echo "ok: web1's nginx request and error rates arrive"

# The three queries of docs/connectivity.md, taken from it as written.
DOC="$(dirname "$0")/../../docs/connectivity.md"
mapfile -t SQL < <(awk '/^```sql$/ {on = 1; next} /^```$/ {on = 0} on' "$DOC")
[ "${#SQL[@]}" = 3 ] || fail "docs/connectivity.md: ${#SQL[@]} sql blocks, not 3"
t=$(count "${SQL[0]}")
[ "$t" = "$(printf 'cache1,0\ndb1,0\nweb1,0\nweb2,0\nweb3,0')" ] || fail "hosts by disconnects: $t"
t=$(count "${SQL[1]}")
# The rates are the last round's: web1's may be 0 by now, but never NULL.
awk -F, 'NR == 1 && $1 == "east" && $2 != "" && $3 != "" {e = 1} NR == 2 && $0 == "west,," {w = 1} END {exit !(e && w && NR == 2)}' \
        <<<"$t" || fail "rates per datacenter: $t"
t=$(count "${SQL[2]}")
awk -F, 'NR == 1 && $1 == "web1" && $2 != "" && $3 != "" {a = 1} NR == 2 && $1 == "web2" && $2 != "" && $3 == "" {b = 1}
         NR == 3 && $1 == "web3" && $2 != "" && $3 == "" {c = 1} END {exit !(a && b && c && NR == 3)}' \
        <<<"$t" || fail "load against error rate: $t"
echo "ok: the three queries give the expected rows"

# One probe in five dropped, round after round: loss noted, no alert.
last=$(q -f json "SELECT coalesce(max(seq), 0) FROM alerts" | jq '.rows[0][0]')
in_ns cache1 nft -f - <<'NFT'
table inet lossy {
        chain input {
                type filter hook input priority 0;
                ip saddr 10.88.0.13 tcp dport 6379 tcp flags & (syn | ack) == syn numgen inc mod 5 == 0 drop
        }
}
NFT
sleep 12
in_ns cache1 nft delete table inet lossy
t=$(count "SELECT state, history FROM links WHERE src = 'web3' AND dst = '10.88.0.22' AND kind = 'tcp'")
grep -q "l" <<<"$t" || fail "web3 -> cache1 never lost a probe: $t"
[ "$(count "SELECT count(*) FROM alerts WHERE seq > $last")" = 0 ] || { q "SELECT * FROM alerts" >&2; fail "alerts on 1 in 5"; }
out=$(check) || fail "check with 1 probe in 5 lost: $out"
echo "ok: one probe in five lost ($t): no alert; $out"

# The cache's service stopped: refused, not lost.
kill "$CACHE"
refused() { [ "$(count "SELECT count(*) FROM links WHERE dst = '10.88.0.22' AND kind = 'tcp' AND state = 'refused'")" = 3 ]; }
wait_for 20 refused || { q "SELECT src, dst, kind, state, sent, lost, refused, history FROM links" >&2; fail "refused"; }
[ "$(count "SELECT sum(lost) FROM links WHERE dst = '10.88.0.22' AND kind = 'tcp'")" = 0 ] || fail "refusals counted as loss"
[ "$(count "SELECT count(*) FROM links WHERE dst = '10.88.0.22' AND kind = 'icmp' AND state = 'ok'")" = 3 ] ||
        fail "the host answers pings while its service is down"
status=0; out=$(check) || status=$?
[ "$status" = 2 ] && grep -q "cache1" <<<"$out" || fail "check with the cache down ($status): $out"
echo "ok: a stopped service shows refused; $(head -1 <<<"$out")"
rm -f "$E2E_TMP/cache1"
start_cache
wait_for 30 all_ok || fail "the cache's links came back"

# db1's link cut: loss within 2 rounds, then CRITICAL naming db1.
last=$(q -f json "SELECT coalesce(max(seq), 0) FROM alerts" | jq '.rows[0][0]')
dev=$(in_ns db1 ip -o link show | awk -F': ' '$2 != "lo" {print $2}' | cut -d@ -f1)
in_ns db1 ip link set "$dev" down
cut=$SECONDS
lossy() { [ "$(count "SELECT count(*) FROM links WHERE dst = '10.88.0.21' AND lost > 0")" = 6 ]; }
wait_for 6 lossy || fail "no loss within 2 rounds of the cut"
echo "ok: loss seen $((SECONDS - cut)) s after the cut"
critical() { local s=0; out=$(check) || s=$?; [ "$s" = 2 ]; }
wait_for 20 critical || fail "check never CRITICAL: $out"
grep -q "^NETDEP CRITICAL - fleet: 1 broken: db1 " <<<"$out" || fail "CRITICAL not naming db1: $out"
grep -Eq "^web[123] -> 10.88.0.21:5432 db1 down$" <<<"$out" || fail "the down link not listed: $out"
status=0; out_b=$(check --server "$SERVER_B") || status=$?
[ "$status" = 2 ] && grep -q "^NETDEP CRITICAL - fleet: 1 broken: db1 " <<<"$out_b" ||
        fail "the second server does not see it ($status): $out_b"
in_ns srv curl -sf "$SERVER/metrics" -H "Authorization: Bearer $(cat "$E2E_TMP/token-reader")" |
        grep -Eq '^netdep_live_link_loss_ratio\{src="web[123]",dst="10.88.0.21",port="5432",kind="tcp",dst_host="db1",state="down"\} 1$' ||
        fail "metrics: no series for the down link"
echo "ok: CRITICAL $((SECONDS - cut)) s after the cut: $(head -1 <<<"$out")"

in_ns db1 ip link set "$dev" up
wait_for 40 check >/dev/null || fail "the alert did not clear: $(check)"
alerts=$(in_ns srv curl -sf "$SERVER/api/v1/alerts?since=$last" -H "Authorization: Bearer $(cat "$E2E_TMP/token-reader")")
jq -e '[.alerts[] | select(.kind == "host" and .subject == "db1") | .state] | index("broken") != null and .[-1] != "broken"' \
        <<<"$alerts" >/dev/null || fail "alerts: $alerts"
echo "ok: restored, the alert clears: $(check)"

# Read-only, time-bound queries; nothing changed.
before=$(count "SELECT count(*) FROM hosts")
for sql in "DROP TABLE hosts" "ATTACH DATABASE '$E2E_TMP/x.db' AS x" "PRAGMA writable_schema = 1" \
           "DELETE FROM links" "SELECT 1; DROP TABLE links"; do
        status=0; q "$sql" >/dev/null 2>"$E2E_TMP/err" || status=$?
        [ "$status" = 2 ] && grep -q "^netdep: error: " "$E2E_TMP/err" || fail "'$sql' exited $status: $(cat "$E2E_TMP/err")"
done
start=$SECONDS
status=0
q "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c" 2>"$E2E_TMP/err" || status=$?
[ "$status" = 2 ] && grep -q "time limit of 1000 ms" "$E2E_TMP/err" && [ $((SECONDS - start)) -le 3 ] ||
        fail "runaway query: exit $status after $((SECONDS - start)) s: $(cat "$E2E_TMP/err")"
[ "$(count "SELECT count(*) FROM hosts")" = "$before" ] || fail "hosts changed"
[ ! -e "$E2E_TMP/x.db" ] || fail "ATTACH made a file"
echo "ok: query refuses DROP, ATTACH, PRAGMA and runaways; nothing changed"

kill "$SERVE"
wait "$SERVE" 2>/dev/null || true
status=0; out=$(check) || status=$?
[ "$status" = 3 ] && grep -q "^NETDEP UNKNOWN - " <<<"$out" || fail "check without a server ($status): $out"
echo "ok: $out"
