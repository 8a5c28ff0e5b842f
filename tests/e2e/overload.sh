#!/bin/bash
# A server out of store connections: posts beyond its queue are answered
# 503 with Retry-After at once, and an agent waits as long as it is told
# before it posts again, rather than its own, shorter backoff.
#
# The store is made slow for real: another process holds SQLite's write
# lock, so the one connection serve has (--pool 1, --max-queued 0) waits
# on it, and every other post finds none.
. "$(dirname "$0")/lib.sh"

command -v curl >/dev/null || fail "missing curl (make deps installs it)"
DB="$E2E_TMP/netdep.db"
"$NETDEP" db migrate --store "sqlite:$DB" >/dev/null
make_host box box
in_ns() { ip netns exec "$box" "$@"; }
URL=http://127.0.0.1:8470

ip netns exec "$box" "$NETDEP" serve --store "sqlite:$DB" --listen 127.0.0.1:8470 --pool 1 --max-queued 0 \
        2>"$E2E_TMP/serve.log" &
wait_for 20 in_ns curl -sf "$URL/readyz" -o /dev/null || { cat "$E2E_TMP/serve.log" >&2; fail "serve did not start"; }

# The lock, held for 40 s by another process.
python3 - "$DB" <<'PY' &
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
open(sys.argv[1] + ".locked", "w").close()
time.sleep(40)
PY
locker=$!
wait_for 10 test -e "$DB.locked" || fail "could not lock the store"

flush='{"netdep_flush":1,"hostname":"h1","ts":1765000000,"first_ts":1765000000,"addrs":[],"namespaces":[],"edges":[]}'
# Keep serve's one connection waiting on the lock, post after post.
( while kill -0 "$locker" 2>/dev/null; do
          in_ns curl -s -o /dev/null -X POST --data "$flush" "$URL/api/v1/flush" || true
  done ) &
holder=$!
overloaded() { in_ns curl -s "$URL/metrics" | awk '/^netdep_ingest_requests_total\{result="overloaded"\}/ {print $2}'; }
sleep 1
answer=$(in_ns curl -s -i -X POST --data "$flush" "$URL/api/v1/flush" | tr -d '\r')
grep -q "^HTTP/1.1 503" <<<"$answer" && grep -q "^Retry-After: 2$" <<<"$answer" ||
        fail "a post beyond the queue: $answer"
echo "ok: a post beyond the queue is answered at once: $(head -1 <<<"$answer"), Retry-After: 2"

# An agent against it: its own backoff would post again after 1 s, then
# 2 s; told Retry-After: 2, it waits at least 2 s each time.
before=$(overloaded)
ip netns exec "$box" "$NETDEP" agent --server "$URL" --hostname h1 --mode polling --interval 200ms \
        --flush-interval 500ms --probe-interval 0 --spool-dir "$E2E_TMP/spool" 2>"$E2E_TMP/agent.log" &
agent=$!
times=()
last=$before
deadline=$((SECONDS + 20))
while [ ${#times[@]} -lt 4 ] && [ $SECONDS -lt $deadline ]; do
        now=$(overloaded)
        if [ "$now" != "$last" ]; then
                times+=("$(date +%s.%N)")
                last=$now
        fi
        sleep 0.1
done
kill "$agent" "$holder" 2>/dev/null || true
[ ${#times[@]} -ge 3 ] || { cat "$E2E_TMP/agent.log" >&2; fail "the agent posted ${#times[@]} times in 20 s"; }
for ((i = 1; i < ${#times[@]}; i++)); do
        gap=$(awk -v a="${times[i]}" -v b="${times[i - 1]}" 'BEGIN {printf "%.1f", a - b}')
        awk -v g="$gap" 'BEGIN {exit !(g >= 1.8)}' || fail "the agent posted again after $gap s, not the 2 s it was told"
        echo "ok: the agent's next post after $gap s"
done
grep -q "unavailable" "$E2E_TMP/agent.log" || fail "the agent did not say the server is unavailable"
echo "ok: the agent honours Retry-After"
