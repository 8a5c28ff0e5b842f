#!/bin/bash
# The fleet set-up with real parts: agents in four namespaces report over
# HTTPS (a certificate made here) to two `netdep serve` processes in a
# fifth, which write one PostgreSQL (tests/with-postgres.sh). Then:
#   - the answers through a server equal those from the store;
#   - both servers ingest, and PostgreSQL sees no more sessions than their
#     pools;
#   - one server is killed for 20 s under load and started again: every
#     flush made is written, and a connection that lived only while it was
#     down is in the store;
#   - refused posts (bad token 401, reader token 403, another host's
#     flush 403, oversize 413, cut gzip 400, malformed JSON 400) leave the
#     store as it was, while the same flush with the right token is stored.
#
#   a1 10.79.0.11  listener :9100; agent -> serve A
#   a2 10.79.0.12  2 connections to a1:9100; agent -> serve A
#   a3 10.79.0.13  1 connection to a1:9100; agent -> serve B
#   a4 10.79.0.14  listener :9200, which a1 holds 3 connections to; -> serve B
#   srv 10.79.0.2  serve A on :8443 and serve B on :8444 (TLS, tokens)
. "$(dirname "$0")/lib.sh"

[ -n "${ND_TEST_PG_PSQL:-}" ] || { echo "SKIP: needs tests/with-postgres.sh" >&2; exit 77; }
for tool in openssl curl gzip; do
        command -v "$tool" >/dev/null || { echo "SKIP: $tool is missing (make test installs it)" >&2; exit 77; }
done
STORE=$ND_TEST_STORE

make_switch sw sw
declare -A ADDR=([a1]=10.79.0.11 [a2]=10.79.0.12 [a3]=10.79.0.13 [a4]=10.79.0.14 [srv]=10.79.0.2)
declare -A NS
for h in a1 a2 a3 a4 srv; do
        make_host "$h" "NS[$h]"
        attach_host "$sw" "${NS[$h]}" "${ADDR[$h]}"
done
in_ns() { local h=$1; shift; ip netns exec "${NS[$h]}" "$@"; }

SERVERS=()
stop_all() { [ ${#SERVERS[@]} -eq 0 ] || kill -9 "${SERVERS[@]}" 2>/dev/null || true; }
trap 'stop_all; [ -z "${ND_KEEP:-}" ] || cp -r "$E2E_TMP" "$ND_KEEP"; e2e_cleanup' EXIT

# A certificate for the server's address, and the tokens.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=10.79.0.2 \
        -addext subjectAltName=IP:10.79.0.2 -keyout "$E2E_TMP/key.pem" -out "$E2E_TMP/cert.pem" 2>/dev/null
token() { head -c 24 /dev/urandom | base64 | tr '+/' '-_'; }
declare -A TOKEN
for h in a1 a2 a3 a4 reader admin; do
        TOKEN[$h]=$(token)
        printf '%s\n' "${TOKEN[$h]}" >"$E2E_TMP/token-$h"
done
{
        echo "# scope  token  hostname"
        for h in a1 a2 a3 a4; do echo "agent ${TOKEN[$h]} $h"; done
        echo "reader ${TOKEN[reader]}"
        echo "admin ${TOKEN[admin]}"
} >"$E2E_TMP/tokens"
chmod 600 "$E2E_TMP/tokens"

start_serve() { # NAME PORT
        # Not through in_ns: $! must be the server itself.
        ip netns exec "${NS[srv]}" "$NETDEP" serve --store "$STORE" --listen "10.79.0.2:$2" --tokens "$E2E_TMP/tokens" \
                --tls-cert "$E2E_TMP/cert.pem" --tls-key "$E2E_TMP/key.pem" --pool 2 \
                2>>"$E2E_TMP/serve-$1.log" &
        SERVERS+=($!)
        eval "SERVE_$1=$!"
        wait_for 20 in_ns srv curl -sf --cacert "$E2E_TMP/cert.pem" "https://10.79.0.2:$2/readyz" -o /dev/null ||
                { cat "$E2E_TMP/serve-$1.log" >&2; fail "serve $1 did not start"; }
}
start_serve A 8443
start_serve B 8444
URL_A=https://10.79.0.2:8443
URL_B=https://10.79.0.2:8444

# Traffic, then the agents.
in_ns a1 "$TCP_HOLD" --name listener --listen 0.0.0.0:9100 --ready "$E2E_TMP/a1" &
in_ns a4 "$TCP_HOLD" --name listener --listen 0.0.0.0:9200 --ready "$E2E_TMP/a4" &
wait_for 10 test -e "$E2E_TMP/a1" -a -e "$E2E_TMP/a4" || fail "listeners"
in_ns a2 "$TCP_HOLD" --name steady --connect 10.79.0.11:9100:2 --ready "$E2E_TMP/c2" &
in_ns a3 "$TCP_HOLD" --name steady --connect 10.79.0.11:9100:1 --ready "$E2E_TMP/c3" &
in_ns a1 "$TCP_HOLD" --name steady --connect 10.79.0.14:9200:3 --ready "$E2E_TMP/c1" &
wait_for 10 test -e "$E2E_TMP/c1" -a -e "$E2E_TMP/c2" -a -e "$E2E_TMP/c3" || fail "clients"

declare -A AGENT
for h in a1 a2 a3 a4; do
        url=$URL_A; [ "$h" = a3 ] || [ "$h" = a4 ] && url=$URL_B
        ip netns exec "${NS[$h]}" "$NETDEP" agent -v --server "$url" --token-file "$E2E_TMP/token-$h" --ca-file "$E2E_TMP/cert.pem" \
                --hostname "$h" --interval 200ms --flush-interval 1s --spool-dir "$E2E_TMP/spool-$h" \
                2>"$E2E_TMP/agent-$h.log" &
        AGENT[$h]=$!
done

# The CLI, through a server (from a4's namespace) or from the store.
ask() { local url=$1 verb=$2; shift 2; in_ns a4 "$NETDEP" "$verb" "$@" --server "$url" \
        --token-file "$E2E_TMP/token-reader" --ca-file "$E2E_TMP/cert.pem"; }
local_ask() { "$NETDEP" "$@" --store "$STORE"; }
ready() {
        local t
        t=$(local_ask look --host a1 --direction both 2>/dev/null) || return 1
        grep -q "10.79.0.12:many (steady" <<<"$t" && grep -q "10.79.0.13:many (steady" <<<"$t" &&
                grep -q "10.79.0.14:9200" <<<"$t"
}
wait_for 30 ready || { local_ask look --host a1 >&2 || true; cat "$E2E_TMP"/agent-*.log >&2; fail "edges through serve"; }
echo "ok: four agents report through two servers over TLS"

# Both servers ingest, and hold no more store connections than their pools.
stored() { # URL: flushes that server stored
        in_ns srv curl -sf --cacert "$E2E_TMP/cert.pem" "$1/metrics" |
                awk '/^netdep_ingest_requests_total\{result="stored"\}/ {print $2}'
}
both_ingest() { [ "$(stored "$URL_A")" -gt 3 ] && [ "$(stored "$URL_B")" -gt 3 ]; }
wait_for 20 both_ingest || fail "serve A stored $(stored "$URL_A") flushes, serve B $(stored "$URL_B")"
sessions=$("$ND_TEST_PG_PSQL" -Atc "SELECT count(*) FROM pg_stat_activity
        WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()")
[ "$sessions" -le 4 ] || fail "$sessions PostgreSQL sessions, more than the two pools of 2"
echo "ok: both servers ingest; PostgreSQL sees $sessions sessions"

# Serve A killed for 20 s under load; a connection lives only meanwhile.
kill -9 "$SERVE_A"
down=$SECONDS
in_ns a2 "$TCP_HOLD" --name burst --connect 10.79.0.11:9100:4 --ready "$E2E_TMP/burst" &
burst=$!
wait_for 5 test -e "$E2E_TMP/burst" || fail "burst client"
sleep 5
kill "$burst"
while [ $((SECONDS - down)) -lt 20 ]; do sleep 1; done
start_serve A 8443
back() { grep -q "is back" "$E2E_TMP/agent-a1.log" && grep -q "is back" "$E2E_TMP/agent-a2.log"; }
wait_for 45 back || { cat "$E2E_TMP"/agent-a1.log >&2; fail "agents did not notice serve A is back"; }
sleep 2
for h in a1 a2 a3 a4; do kill -TERM "${AGENT[$h]}"; done
for h in a1 a2 a3 a4; do wait "${AGENT[$h]}" || { cat "$E2E_TMP/agent-$h.log" >&2; fail "agent $h exited $?"; }; done
for h in a1 a2 a3 a4; do
        log="$E2E_TMP/agent-$h.log"
        line=$(grep -E 'flushes made, [0-9]+ written, [0-9]+ dropped' "$log") || { cat "$log" >&2; fail "$h: stats"; }
        read -r made written dropped < <(sed -E 's/.* ([0-9]+) flushes made, ([0-9]+) written, ([0-9]+) dropped.*/\1 \2 \3/' <<<"$line")
        [ "$made" -ge 20 ] && [ "$written" = "$made" ] && [ "$dropped" = 0 ] ||
                { cat "$log" >&2; fail "$h: $made flushes made, $written written, $dropped dropped"; }
done
grep -q "unavailable" "$E2E_TMP/agent-a1.log" || fail "a1 never saw serve A down"
t=$(local_ask look --host a1 --direction in)
grep -Eq '10\.79\.0\.12:many \(burst, pgid [0-9]+\)  connections 4' <<<"$t" ||
        { echo "$t" >&2; fail "the connection that lived only while serve A was down"; }
echo "ok: serve A down 20 s under load: every flush written, nothing lost"

# The same answers through either server as from the store.
# The agents have stopped: the store holds still. Ages count in seconds
# up to now: JSON's as_of and age_s are left out of the comparison, and a
# text that shows ages gets up to three tries, as a second may turn.
timeless() {
        local t
        t=$(cat)
        jq -S 'walk(if type == "object" then del(.as_of, .age_s) else . end)' <<<"$t" 2>/dev/null || printf '%s\n' "$t"
}
same() { # WHAT VERB ARGS...
        local what=$1 a b c try
        shift
        for try in 1 2 3; do
                a=$(local_ask "$@" | timeless) || fail "$what from the store"
                b=$(ask "$URL_A" "$@" | timeless) || fail "$what through serve A"
                c=$(ask "$URL_B" "$@" | timeless) || fail "$what through serve B"
                [ "$a" = "$b" ] && [ "$a" = "$c" ] && return 0
        done
        diff <(echo "$a") <(echo "$b") >&2 || diff <(echo "$a") <(echo "$c") >&2 || true
        fail "$what differs"
}
same "look tree" look --host a1 --depth 2
same "look json" look --host a1 --depth 2 --format json
same "look in, dot" look --host 10.79.0.14 --direction in --format dot
same "graph json" graph --format json
same "impact" impact a1
same "hosts" hosts --format json
echo "ok: look, graph, impact and hosts through either server equal the store's"
# Usage errors are the CLI's, and 'no such host' too.
out=$(ask "$URL_A" look --host nosuch 2>&1) && fail "look of an unknown host through serve"
grep -q "unknown host nosuch" <<<"$out" || fail "unknown host through serve: $out"
code=$(in_ns a4 curl -s -o /dev/null -w '%{http_code}' --cacert "$E2E_TMP/cert.pem" \
        -H "Authorization: Bearer ${TOKEN[reader]}" "$URL_A/api/v1/look?host=a1&depth=99")
[ "$code" = 400 ] || fail "depth=99 answered $code, want 400"

# Refused posts change nothing.
snapshot() { "$ND_TEST_PG_PSQL" -Atc "SELECT (SELECT count(*) FROM edges), (SELECT count(*) FROM observations),
        (SELECT count(*) FROM hosts), (SELECT coalesce(sum(connections), 0) FROM observations)"; }
now=$(date +%s)
flush() { # HOSTNAME
        printf '{"netdep_flush":1,"hostname":"%s","ts":%d,"first_ts":%d,"addrs":["10.79.0.99"],"namespaces":[],"edges":[["10.79.0.99","intruder",-1,"10.79.0.11",9100,"",-1,"client",5,0,0,0,0,0,0,1]]}' \
                "$1" "$now" "$now"
}
flush a2 | gzip >"$E2E_TMP/other.gz"
flush a1 | gzip >"$E2E_TMP/own.gz"
head -c $(( $(stat -c %s "$E2E_TMP/own.gz") - 10 )) "$E2E_TMP/own.gz" >"$E2E_TMP/cut.gz"
head -c $((9 << 20)) /dev/zero >"$E2E_TMP/big"
echo '{"netdep_flush":1,"hostname":"a1"' | gzip >"$E2E_TMP/bad-json.gz"
post() { # TOKEN FILE
        in_ns srv curl -s -o "$E2E_TMP/answer" -w '%{http_code}' --cacert "$E2E_TMP/cert.pem" \
                -H "Authorization: Bearer $1" -H 'Content-Encoding: gzip' -H 'Content-Type: application/json' \
                --data-binary "@$2" "$URL_A/api/v1/flush"
}
expect_refused() { # WHAT WANT TOKEN FILE
        local before code
        before=$(snapshot)
        code=$(post "$3" "$4")
        [ "$code" = "$2" ] || fail "$1: answered $code ($(cat "$E2E_TMP/answer")), want $2"
        [ "$(wc -l <"$E2E_TMP/answer")" = 1 ] || fail "$1: the reason is not one line"
        [ "$(snapshot)" = "$before" ] || fail "$1: the store changed"
        echo "ok: $1: $2 $(cat "$E2E_TMP/answer")"
}
expect_refused "unknown token" 401 "not-a-token-at-all-0123456789" "$E2E_TMP/own.gz"
expect_refused "reader token" 403 "${TOKEN[reader]}" "$E2E_TMP/own.gz"
expect_refused "another host's flush" 403 "${TOKEN[a1]}" "$E2E_TMP/other.gz"
expect_refused "oversize body" 413 "${TOKEN[a1]}" "$E2E_TMP/big"
expect_refused "cut gzip" 400 "${TOKEN[a1]}" "$E2E_TMP/cut.gz"
expect_refused "malformed JSON" 400 "${TOKEN[a1]}" "$E2E_TMP/bad-json.gz"
code=$(in_ns srv curl -s -o /dev/null -w '%{http_code}' --cacert "$E2E_TMP/cert.pem" "$URL_A/api/v1/look?host=a1")
[ "$code" = 401 ] || fail "a read without a token answered $code"
# The same flush with its own host's token is stored: the checks above
# could see a change.
before=$(snapshot)
code=$(post "${TOKEN[a1]}" "$E2E_TMP/own.gz")
[ "$code" = 200 ] || fail "a1's own flush answered $code: $(cat "$E2E_TMP/answer")"
[ "$(snapshot)" != "$before" ] || fail "a1's own flush changed nothing"
local_ask look --host 10.79.0.99 | grep -q "intruder" || fail "a1's own flush is not in the store"
# Without the test's CA, TLS is refused.
in_ns srv curl -s -o /dev/null "$URL_A/healthz" && fail "TLS without the CA was accepted"
echo "ok: refused posts leave the store unchanged; TLS checks the certificate"
