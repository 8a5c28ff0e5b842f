#!/bin/bash
# The web page in a real browser (Debian's chromium, driven by
# tests/browser/page.test.mjs through puppeteer-core) against a small fleet:
#
#   web1 10.89.0.11, web2 10.89.0.12  clients holding connections to db1 and cache1
#   db1  10.89.0.21  a listener on :5432
#   cache1 10.89.0.22  a listener on :6379; mid-test, a new client of db1
#   srv  10.89.0.2   netdep serve with tokens; the browser runs here too
#
# Checked here: the page's weight (gzip -9 of every asset it can load, at
# most 300 KB), its headers, and the login cookie (reader tokens only, GETs
# only). In the browser: login, no console error, the graph's text form,
# impact on a click, db1's link cut and restored, a diff showing the new
# edge, the three saved views. Screenshots go to $WEB_SCREENS.
. "$(dirname "$0")/lib.sh"

: "${WEB_MANIFEST:?}" "${BROWSER_TESTS:?}" "${BROWSER_WORK:?}" "${WEB_SCREENS:?}"
for tool in curl node npm gzip; do
        command -v "$tool" >/dev/null || { echo "SKIP: $tool is missing (make test installs it)" >&2; exit 77; }
done
CHROMIUM=$(command -v chromium || true)
[ -n "$CHROMIUM" ] || { echo "SKIP: no chromium (make deps installs it)" >&2; exit 77; }
[ -s "$WEB_MANIFEST" ] || { echo "SKIP: this build has no web page (npm was missing at build time)" >&2; exit 77; }

# puppeteer-core, as tests/browser/package-lock.json pins it, once per lock.
"$BROWSER_TESTS/install.sh" "$BROWSER_WORK" || { echo "SKIP: npm ci for puppeteer-core failed" >&2; exit 77; }
# Bare imports resolve from the script's own folder: run it from there.
cp "$BROWSER_TESTS/page.test.mjs" "$BROWSER_WORK/"
mkdir -p "$WEB_SCREENS"

declare -A ADDR=([web1]=10.89.0.11 [web2]=10.89.0.12 [db1]=10.89.0.21 [cache1]=10.89.0.22 [srv]=10.89.0.2)
HOSTS=(web1 web2 db1 cache1)
make_fleet
write_tokens reader
READER=$(cat "$E2E_TMP/token-reader")

STORE="sqlite:$E2E_TMP/netdep.db"
cat >"$E2E_TMP/roles" <<'ROLES'
10.89.0.8/29   shop:web    dc=east
10.89.0.21     shop:db     dc=west
10.89.0.22     shop:cache  dc=west
ROLES
"$NETDEP" db migrate --store "$STORE" >/dev/null
"$NETDEP" roles import "$E2E_TMP/roles" --store "$STORE" >/dev/null

SERVER=http://10.89.0.2:8470
# --down-after 2/5: a link is down (red) after 2 failed probe rounds.
ip netns exec "${NS[srv]}" "$NETDEP" serve --store "$STORE" --listen 10.89.0.2:8470 --tokens "$E2E_TMP/tokens" \
        --down-after 2/5 2>"$E2E_TMP/serve.log" &
PIDS+=($!)
wait_for 20 in_ns srv curl -sf "$SERVER/readyz" -o /dev/null || { cat "$E2E_TMP/serve.log" >&2; fail "serve did not start"; }

# ---- the page's weight and headers, the login cookie ----
total=0
while read -r name; do
        if [ "$name" = index.html ]; then url="$SERVER/"; else url="$SERVER/assets/$name"; fi
        in_ns srv curl -sf -o "$E2E_TMP/asset" "$url" || fail "GET $url"
        size=$(gzip -9c "$E2E_TMP/asset" | wc -c)
        printf '  %-36s %7d bytes, %6d gzip -9\n' "$name" "$(wc -c <"$E2E_TMP/asset")" "$size"
        total=$((total + size))
done <"$WEB_MANIFEST"
echo "ok: everything the page loads weighs $total bytes gzip'd (at most 307200)"
[ "$total" -le 307200 ] || fail "the page weighs $total bytes gzip'd, more than 300 KB"

headers=$(in_ns srv curl -sfI "$SERVER/")
grep -qi "^content-security-policy: default-src 'self'; img-src 'self' data:; style-src 'self'" <<<"$headers" ||
        fail "/ without the CSP: $headers"
grep -qi '^x-content-type-options: nosniff' <<<"$headers" || fail "/ without nosniff"
asset=$(grep -m1 '^app\.' "$WEB_MANIFEST")
in_ns srv curl -sfI "$SERVER/assets/$asset" | grep -qi '^cache-control: public, max-age=31536000, immutable' ||
        fail "$asset is not cached for good"
[ "$(in_ns srv curl -s -o /dev/null -w '%{http_code}' "$SERVER/assets/nothing.js")" = 404 ] || fail "an unknown asset"
echo "ok: CSP, nosniff, immutable hashed assets"

login() { in_ns srv curl -s -o /dev/null -w '%{http_code} %{redirect_url}' -c "$E2E_TMP/cookies" --data-urlencode "token=$1" "$SERVER/login"; }
out=$(login "$(cat "$E2E_TMP/token-web1")")
[ "$out" = "303 $SERVER/?login=refused" ] || fail "an agent token signed in: $out"
out=$(login "$READER")
[ "$out" = "303 $SERVER/" ] || fail "the reader token did not sign in: $out"
grep -q "netdep_token" "$E2E_TMP/cookies" && grep -q '^#HttpOnly_' "$E2E_TMP/cookies" || fail "no HttpOnly cookie: $(cat "$E2E_TMP/cookies")"
[ "$(in_ns srv curl -s -o /dev/null -w '%{http_code}' -b "$E2E_TMP/cookies" "$SERVER/api/v1/hosts?format=json")" = 200 ] ||
        fail "the cookie does not read"
[ "$(in_ns srv curl -s -o /dev/null -w '%{http_code}' "$SERVER/api/v1/hosts?format=json")" = 401 ] || fail "read without a token"
status=$(in_ns srv curl -s -o /dev/null -w '%{http_code}' -b "$E2E_TMP/cookies" --data-binary @"$E2E_TMP/roles" \
         "$SERVER/api/v1/roles")
[ "$status" = 401 ] || fail "the cookie authorized a POST: $status"
echo "ok: a reader token signs in (HttpOnly cookie), an agent token does not; the cookie reads, and never posts"

# ---- the fleet ----
in_ns db1 "$TCP_HOLD" --name postgres --listen 0.0.0.0:5432 --ready "$E2E_TMP/db1" &
PIDS+=($!)
in_ns cache1 "$TCP_HOLD" --name redis --listen 0.0.0.0:6379 --ready "$E2E_TMP/cache1" &
PIDS+=($!)
wait_for 10 test -e "$E2E_TMP/db1" || fail "db listener"
wait_for 10 test -e "$E2E_TMP/cache1" || fail "cache listener"
for h in web1 web2; do
        in_ns "$h" "$TCP_HOLD" --name app --connect 10.89.0.21:5432:2 --connect 10.89.0.22:6379:1 \
                --ready "$E2E_TMP/app-$h" &
        PIDS+=($!)
done
for h in web1 web2; do wait_for 10 test -e "$E2E_TMP/app-$h" || fail "$h's connections"; done
for h in "${HOSTS[@]}"; do
        ip netns exec "${NS[$h]}" "$NETDEP" agent -v --server "$SERVER" --token-file "$E2E_TMP/token-$h" \
                --hostname "$h" --mode polling --interval 500ms --flush-interval 1s --spool-dir "$E2E_TMP/spool-$h" \
                --probe-interval 2s --probe-timeout 400ms --peers-interval 2s 2>"$E2E_TMP/agent-$h.log" &
        PIDS+=($!)
done
q() { in_ns srv "$NETDEP" query --server "$SERVER" --token-file "$E2E_TMP/token-reader" "$@"; }
ok_links() { [ "$(q -f csv "SELECT count(*) FROM links WHERE state = 'ok'" | tail -n +2 | tr -d '\r')" -ge 4 ]; }
wait_for 60 ok_links || { q "SELECT * FROM links" >&2; fail "the links are not probed"; }
echo "ok: the fleet reports, its links probed"

# ---- the browser ----
DB_DEV=$(in_ns db1 ip -o link show | awk -F': ' '$2 != "lo" {print $2}' | cut -d@ -f1)
export ND_URL="$SERVER" ND_READER_TOKEN="$READER" ND_CHROMIUM="$CHROMIUM" ND_SCREENS="$WEB_SCREENS" \
       ND_DB_NS="${NS[db1]}" ND_DB_DEV="$DB_DEV" ND_CACHE_NS="${NS[cache1]}" ND_TCP_HOLD="$TCP_HOLD" \
       ND_READY_DIR="$E2E_TMP" ND_CONNECTIVITY_DOC="$(dirname "$0")/../../docs/connectivity.md"
export HOME="$E2E_TMP" # chromium's profile and crash folders
cd "$BROWSER_WORK"
in_ns srv node page.test.mjs || { tail -20 "$E2E_TMP/serve.log" >&2; fail "the browser test"; }
