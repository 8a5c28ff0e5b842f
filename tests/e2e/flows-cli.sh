#!/bin/bash
# The command line: usage errors, help, loopback handling, partial
# attribution without root, and the reverse-DNS budget.
. "$(dirname "$0")/lib.sh"

expect_status() { # STATUS STDERR_PATTERN COMMAND...
        local want=$1 pattern=$2 status=0
        shift 2
        "$@" >"$E2E_TMP/out" 2>"$E2E_TMP/err" || status=$?
        [ "$status" = "$want" ] || { cat "$E2E_TMP/err" >&2; fail "$* exited $status, not $want"; }
        grep -Eq -- "$pattern" "$E2E_TMP/err" || { cat "$E2E_TMP/err" >&2; fail "$*: stderr lacks '$pattern'"; }
        echo "ok: $* -> $want"
}

expect_status 2 "unknown option '--bogus'" "$NETDEP" flows --bogus
expect_status 2 "invalid --filter 'nope'" "$NETDEP" flows --filter nope
expect_status 2 "option '--filter' needs a value" "$NETDEP" flows --filter
expect_status 2 "invalid --resolve budget 'soon'" "$NETDEP" flows --resolve=soon
expect_status 2 "invalid --source 'x'" "$NETDEP" flows --source x
expect_status 2 "unexpected argument 'extra'" "$NETDEP" flows extra
expect_status 2 "unknown verb 'flwos'" "$NETDEP" flwos
expect_status 2 "unknown option '--nope'" "$NETDEP" --nope
expect_status 2 "Usage" "$NETDEP"
"$NETDEP" --help | grep -q "^Usage: netdep" || fail "--help"
"$NETDEP" flows --help | grep -q "^Usage: netdep flows" || fail "flows --help"
"$NETDEP" --version | grep -Eq "^netdep [0-9]+\.[0-9]+" || fail "--version"
echo "ok: help and version"
# Errors are one line each.
errors=$("$NETDEP" flows --bogus 2>&1 >/dev/null || true)
[ "$(grep -c error <<<"$errors")" = 1 ] || fail "one error line"

# Loopback traffic in a namespace of its own.
make_host lo host
ip netns exec "$host" "$TCP_HOLD" --name lo-srv --listen 127.0.0.1:7000 &
wait_for 5 sh -c "ip netns exec $host ss -Htln | grep -q ':7000'" || fail "listener"
ip netns exec "$host" "$TCP_HOLD" --name lo-cli --ready "$E2E_TMP/lo" --connect 127.0.0.1:7000:3 &
wait_for 5 test -e "$E2E_TMP/lo" || fail "client"
ip netns exec "$host" "$NETDEP" flows --json | jq -e 'length == 2' >/dev/null || fail "loopback flows"
ip netns exec "$host" "$NETDEP" flows --json --no-loopback | jq -e 'length == 0' >/dev/null || fail "--no-loopback"
echo "ok: --no-loopback"

# Reverse DNS: 127.0.0.1 is in /etc/hosts; the budget bounds the wait even
# where no DNS server answers (this namespace has no route anywhere).
start=$(date +%s%N)
out=$(ip netns exec "$host" "$NETDEP" flows --resolve=1s)
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
grep -q "localhost:7000" <<<"$out" || { echo "$out" >&2; fail "--resolve names 127.0.0.1"; }
[ "$elapsed_ms" -lt 3000 ] || fail "--resolve took ${elapsed_ms} ms with a 1s budget"
ip netns exec "$host" "$NETDEP" flows --resolve=1s --json |
        jq -e 'any(.[]; .local.name == "localhost")' >/dev/null || fail "--resolve JSON names"
echo "ok: --resolve within its budget (${elapsed_ms} ms)"

# Without root: works, says once that attribution is partial; --all-netns
# fails naming the operation.
if command -v setpriv >/dev/null; then
        as_nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups)
        ip netns exec "$host" "${as_nobody[@]}" "$NETDEP" flows --json >"$E2E_TMP/out" 2>"$E2E_TMP/err" ||
                fail "flows as nobody"
        [ "$(grep -c 'attribution is partial' "$E2E_TMP/err")" = 1 ] || { cat "$E2E_TMP/err"; fail "partial notice once"; }
        jq -e 'length == 2' "$E2E_TMP/out" >/dev/null || fail "flows as nobody still sees the sockets"
        echo "ok: unprivileged flows"
        expect_status 1 "Failed to enter other network namespaces" "${as_nobody[@]}" "$NETDEP" flows --all-netns
fi
