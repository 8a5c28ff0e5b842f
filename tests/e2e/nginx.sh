#!/bin/bash
# A real nginx seen through the host indicators: its stub_status rate, its
# access log's 404 and 502 rates in the proportion they were sent, the load
# average; then stub_status unreachable, the log rotated under nginx, and
# the request rate taken from the log instead.
. "$(dirname "$0")/lib.sh"

: "${INDICATORS_RUN:?}"
NGINX=$(command -v nginx || true)
[ -n "$NGINX" ] || [ ! -x /usr/sbin/nginx ] || NGINX=/usr/sbin/nginx
[ -n "$NGINX" ] || { echo "SKIP: no nginx (make deps installs it)" >&2; exit 77; }
command -v curl >/dev/null || fail "missing curl (make deps installs it)"

PORT=8080
BASE="http://127.0.0.1:$PORT"
LOG="$E2E_TMP/access.log"
make_host web host

mkdir -p "$E2E_TMP/www" "$E2E_TMP/temp"
echo hello >"$E2E_TMP/www/index.html"
# Workers as root: the temporary directory is root's alone.
cat >"$E2E_TMP/nginx.conf" <<CONF
user root;
worker_processes 1;
pid $E2E_TMP/nginx.pid;
error_log $E2E_TMP/error.log;
events { worker_connections 64; }
http {
        access_log $LOG;
        client_body_temp_path $E2E_TMP/temp/body;
        proxy_temp_path $E2E_TMP/temp/proxy;
        fastcgi_temp_path $E2E_TMP/temp/fastcgi;
        uwsgi_temp_path $E2E_TMP/temp/uwsgi;
        scgi_temp_path $E2E_TMP/temp/scgi;
        server {
                listen 127.0.0.1:$PORT;
                root $E2E_TMP/www;
                location = /nginx_status { stub_status; access_log off; }
                location = /broken { return 502; }
        }
}
CONF
ip netns exec "$host" "$NGINX" -c "$E2E_TMP/nginx.conf" -p "$E2E_TMP" -e "$E2E_TMP/error.log" -g 'daemon off;' &
nginx_pid=$!
wait_for 10 ip netns exec "$host" curl -sf -o /dev/null "$BASE/nginx_status" ||
        { cat "$E2E_TMP/error.log" >&2; fail "nginx did not start"; }
echo "ok: nginx on $BASE"

# drive OK NOTFOUND BROKEN: that many 200s, 404s and 502s over one
# connection, interleaved; checks every answer.
drive() {
        local ok=$1 notfound=$2 broken=$3 i cfg="$E2E_TMP/curl.cfg"
        : >"$cfg"
        for ((i = 0; i < ok + notfound + broken; i++)); do
                if ((i < notfound)); then
                        echo "url = \"$BASE/missing-$i\""
                elif ((i < notfound + broken)); then
                        echo "url = \"$BASE/broken\""
                else
                        echo "url = \"$BASE/?n=$i\""
                fi
                echo 'output = "/dev/null"'
        done >>"$cfg"
        ip netns exec "$host" curl -s -K "$cfg" -w '%{http_code}\n' >"$E2E_TMP/codes"
        [ "$(grep -c '^200$' "$E2E_TMP/codes")" = "$ok" ] || fail "curl: not $ok answers 200"
        [ "$(grep -c '^404$' "$E2E_TMP/codes")" = "$notfound" ] || fail "curl: not $notfound answers 404"
        [ "$(grep -c '^502$' "$E2E_TMP/codes")" = "$broken" ] || fail "curl: not $broken answers 502"
}

# run_indicators OUT ARGS...: samples in the background; returns once the
# first sample is out, the pid in $runner.
run_indicators() {
        local out=$1
        shift
        ip netns exec "$host" "$INDICATORS_RUN" "$@" >"$out" 2>"$out.err" &
        runner=$!
        wait_for 10 test -s "$out" || { cat "$out.err" >&2; fail "indicators-run gave no first sample"; }
}

# total OUT JQ_RATE: the rate integrated over the samples' intervals.
total() {
        jq -s "map(($2 // 0) * .interval_ms / 1000) | add" "$1"
}

# between VALUE LOW HIGH
between() {
        awk -v v="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(v >= lo && v <= hi) }'
}

# 1. stub_status and the access log both there: 200 requests, 20 of them
# 404 and 10 of them 502, between the first sample and the last.
out="$E2E_TMP/run1.jsonl"
run_indicators "$out" --nginx-status "$BASE/nginx_status" --access-log "$LOG" --samples 4 --every-ms 1000
drive 170 20 10
wait "$runner" || { cat "$out.err" >&2; fail "indicators-run failed"; }
cat "$out"
[ "$(wc -l <"$out")" = 4 ] || fail "not 4 samples"
jq -se 'all(.[]; (.load | length) == 3 and .nginx.active >= 1)' "$out" >/dev/null || fail "load or active missing"
jq -se '.[0] | has("cpu") | not' "$out" >/dev/null || fail "cpu in the first sample"
jq -se '.[1:] | all(.[]; .cpu >= 0 and .cpu <= 1 and .nginx.requests_per_s >= 0)' "$out" >/dev/null ||
        fail "cpu or rate missing after the first sample"
requests=$(total "$out" '.nginx.requests_per_s')
e404=$(total "$out" '.nginx.errors_per_s["404"]')
e502=$(total "$out" '.nginx.errors_per_s["502"]')
echo "integrated: $requests requests (stub_status, its own 3 included), $e404 x 404, $e502 x 502"
# stub_status counts its own fetches too: one per interval.
between "$requests" 200 204 || fail "requests: $requests, not about 200"
between "$e404" 19.99 20.01 || fail "404s: $e404, not 20"
between "$e502" 9.99 10.01 || fail "502s: $e502, not 10"
between "$(awk -v a="$e404" -v b="$requests" 'BEGIN { print a / b }')" 0.09 0.11 || fail "404 share off"
echo "ok: request rate, 404 and 502 rates from a live nginx"

# 2. stub_status unreachable, and the log rotated as logrotate does it
# (rename, then USR1 to reopen) after the first sample: the rate comes
# from the log, the new file read from its start.
out="$E2E_TMP/run2.jsonl"
run_indicators "$out" --nginx-status "http://127.0.0.1:1/nginx_status" --access-log "$LOG" --samples 3 --every-ms 1000
mv "$LOG" "$LOG.1"
kill -USR1 "$(cat "$E2E_TMP/nginx.pid")"
wait_for 5 test -e "$LOG" || fail "nginx did not reopen its log"
drive 45 5 0
wait "$runner" || { cat "$out.err" >&2; fail "indicators-run failed"; }
cat "$out"
jq -se 'all(.[]; (.nginx.active == null) and (.load | length) == 3)' "$out" >/dev/null ||
        fail "stub_status reported while unreachable"
jq -se '.[1:] | all(.[]; .nginx.errors_per_s != null)' "$out" >/dev/null || fail "access log missing"
requests=$(total "$out" '.nginx.requests_per_s')
e404=$(total "$out" '.nginx.errors_per_s["404"]')
echo "integrated: $requests requests (access log), $e404 x 404"
between "$requests" 49.99 50.01 || fail "requests from the log: $requests, not 50"
between "$e404" 4.99 5.01 || fail "404s: $e404, not 5"
echo "ok: stub_status down, rotated log followed"

kill -QUIT "$nginx_pid"
wait "$nginx_pid" || true
echo "ok: nginx stopped"
