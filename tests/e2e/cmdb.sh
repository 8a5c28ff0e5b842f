#!/bin/bash
# The CMDB end to end: a three-tier fleet in network namespaces on one
# bridge, an agent in every namespace but one, all writing to the store
# named by $ND_TEST_STORE (a fresh SQLite file when unset). Then `look` at
# depths 1 to 3 in both directions, grouped by role and not; a time range
# that leaves out an edge that existed only earlier; `diff` showing it
# vanished.
#
#   ext (no agent) --> lb:80 (nginx) --> app1, app2:8080 (app)
#   app1, app2 --> db:5432 (postgres), cache:6379 (redis)
#   app1 (legacy) --> db:3306 (mysql)          only in the first minute
#   db (backup) --> app1:8080                  a cycle
. "$(dirname "$0")/lib.sh"

if [ -z "${ND_TEST_STORE:-}" ]; then
        ND_TEST_STORE="sqlite:$E2E_TMP/cmdb.db"
        chmod 755 "$E2E_TMP"
fi
STORE=$ND_TEST_STORE
nd() { "$NETDEP" "$@" --store "$STORE"; }

nd db migrate >/dev/null

make_switch sw sw
declare -A ADDR=([lb]=10.202.0.10 [app1]=10.202.0.21 [app2]=10.202.0.22 [db]=10.202.0.30 [cache]=10.202.0.40 [ext]=10.202.0.50)
declare -A NS
for h in lb app1 app2 db cache ext; do
        make_host "$h" "NS[$h]"
        attach_host "$sw" "${NS[$h]}" "${ADDR[$h]}"
done

hold() { # HOST NAME ARGS...: a tcp-hold process in a host
        local host=$1 name=$2
        shift 2
        ip netns exec "${NS[$host]}" "$TCP_HOLD" --name "$name" --ready "$E2E_TMP/$host-$name" "$@" &
        wait_for 10 test -e "$E2E_TMP/$host-$name" || fail "$name on $host did not start"
}

hold db postgres --listen 0.0.0.0:5432
hold db mysql --listen 0.0.0.0:3306
legacy_server=$!
hold cache redis --listen 0.0.0.0:6379
hold app1 app --listen 0.0.0.0:8080 --connect 10.202.0.30:5432:2 --connect 10.202.0.40:6379:1
hold app2 app --listen 0.0.0.0:8080 --connect 10.202.0.30:5432:3 --connect 10.202.0.40:6379:1
hold app1 legacy --connect 10.202.0.30:3306:2
legacy_client=$!
hold lb nginx --listen 0.0.0.0:80 --connect 10.202.0.21:8080:3 --connect 10.202.0.22:8080:4
hold db backup --connect 10.202.0.21:8080:1
hold ext curl --connect 10.202.0.10:80:2

AGENTS=()
for h in lb app1 app2 db cache; do
        ip netns exec "${NS[$h]}" "$NETDEP" agent --store "$STORE" --hostname "${h}1" \
                --interval 200ms --flush-interval 1s 2>"$E2E_TMP/agent-$h.log" &
        AGENTS+=($!)
done
stop_agents() {
        kill -TERM "${AGENTS[@]}" 2>/dev/null || true
        wait "${AGENTS[@]}" 2>/dev/null || true
}

look() { nd look "$@"; }
expect_line() { # PATTERN TEXT WHAT
        grep -Eq -- "$1" <<<"$2" || { echo "$2" >&2; fail "$3: no line matching '$1'"; }
}

# Wait until every agent's first flushes are in: the deepest edge (ext's,
# reported by lb's agent), the legacy one, and both app hosts' own views.
ready() {
        local t
        t=$(look --host 10.202.0.30 --direction in --depth 3 2>/dev/null) || return 1
        grep -q "10.202.0.50:many" <<<"$t" && grep -q "legacy" <<<"$t" && ! grep -q "10.202.0.2[12]:many (?)" <<<"$t" &&
                grep -q "backup" <<<"$(look --host 10.202.0.21 --direction in 2>/dev/null)"
}
wait_for 20 ready || { look --host 10.202.0.30 --direction in --depth 3 >&2 || true; fail "agents did not fill the store"; }
echo "ok: agents filled the store"

# Depth 1, in: the db's two ports and who uses them; the two views of each
# edge (client's agent with its process, server's without) read as one.
t=$(look --host 10.202.0.30 --direction in)
expect_line '^db1 10\.202\.0\.30:3306 \(mysql, pgid [0-9]+\)$' "$t" "in d1"
expect_line '^└<-- app11 10\.202\.0\.21:many \(legacy, pgid [0-9]+\)  connections 2$' "$t" "in d1"
expect_line '^db1 10\.202\.0\.30:5432 \(postgres, pgid [0-9]+\)$' "$t" "in d1"
expect_line '^├<-- app11 10\.202\.0\.21:many \(app, pgid [0-9]+\)  connections 2$' "$t" "in d1"
expect_line '^└<-- app21 10\.202\.0\.22:many \(app, pgid [0-9]+\)  connections 3$' "$t" "in d1"
[ "$(grep -c '<--' <<<"$t")" = 3 ] || { echo "$t" >&2; fail "in d1: exactly 3 clients"; }
echo "ok: look depth 1 in"

# Depth 3, in: db <- app <- lb <- ext (no agent: process unknown).
t=$(look --host db1 --direction in --depth 3 --port 5432)
expect_line '^│    ├<-- lb1 10\.202\.0\.10:many \(nginx, pgid [0-9]+\)  connections 3  to :8080 \(app\)$' "$t" "in d3"
expect_line '^│    │    └<-- 10\.202\.0\.50:many \(\?\)  connections 2  to :80 \(nginx\)$' "$t" "in d3"
expect_line '^│    └<-- db1 10\.202\.0\.30:many \(backup, pgid [0-9]+\)  connections 1  to :8080 \(app\)  \(cycle\)$' "$t" "in d3"
# lb was expanded under app1 already: not again under app2.
expect_line '^     └<-- lb1 10\.202\.0\.10:many \(nginx, pgid [0-9]+\)  connections 4  to :8080 \(app\)  \(see above\)$' "$t" "in d3"
[ "$(grep -c '10\.202\.0\.50' <<<"$t")" = 1 ] || { echo "$t" >&2; fail "in d3: a subtree is shown once"; }
grep -q 3306 <<<"$t" && fail "--port 5432 must leave out 3306"
echo "ok: look depth 3 in, by hostname, --port"

# Depth 2, out from lb: lb -> app1, app2 -> db, cache.
t=$(look --host 10.202.0.10 --direction out --depth 2)
expect_line '^lb1 10\.202\.0\.10:many \(nginx, pgid [0-9]+\)$' "$t" "out d2"
expect_line '^├--> app11 10\.202\.0\.21:8080 \(app, pgid [0-9]+\)  connections 3$' "$t" "out d2"
expect_line '^│    ├--> db1 10\.202\.0\.30:5432 \(postgres, pgid [0-9]+\)  connections 2  by app$' "$t" "out d2"
expect_line '^│    └--> cache1 10\.202\.0\.40:6379 \(redis, pgid [0-9]+\)  connections 1  by app$' "$t" "out d2"
expect_line '^└--> app21 10\.202\.0\.22:8080 \(app, pgid [0-9]+\)  connections 4$' "$t" "out d2"
expect_line '^     ├--> db1 10\.202\.0\.30:5432 \(postgres, pgid [0-9]+\)  connections 3  by app$' "$t" "out d2"
echo "ok: look depth 2 out"

# "(see above)" and "(see below)" point at a line of the same address,
# above or below, that shows its subtree: never at nothing.
see_notes_true() { # TREE
        awk '
        function addr(line,   t) {
                t = line
                sub(/^.*(<--|-->) /, "", t)
                sub(/ \(.*$/, "", t)
                sub(/^[^ ]* /, "", t) # the name
                sub(/:[^:]*$/, "", t) # the port
                return t
        }
        { lines[NR] = $0; a[NR] = addr($0); depth[NR] = index($0, (index($0, "<--") ? "<--" : "-->")) }
        END {
                for (i = 1; i <= NR; i++) {
                        # Lines that show a subtree: the next line is deeper.
                        if (i < NR && depth[i + 1] > depth[i] && lines[i] !~ /\(see|\(cycle/) shown[a[i]] = shown[a[i]] " " i
                }
                for (i = 1; i <= NR; i++) {
                        if (lines[i] !~ /\(see (above|below)\)/) continue
                        ok = 0
                        n = split(shown[a[i]], at, " ")
                        for (k = 1; k <= n; k++)
                                if ((lines[i] ~ /above/ && at[k] + 0 < i) || (lines[i] ~ /below/ && at[k] + 0 > i)) ok = 1
                        if (!ok) { print "no subtree of " a[i] " where line " i " points: " lines[i] > "/dev/stderr"; bad = 1 }
                }
                exit bad
        }' <<<"$1"
}
for args in "--host 10.202.0.10 --direction out --depth 3" "--host db1 --direction in --depth 3" \
            "--host 10.202.0.21 --depth 4"; do
        t=$(look $args)
        see_notes_true "$t" || { echo "$t" >&2; fail "look $args: a see note points at nothing"; }
done
echo "ok: every see note points at a shown subtree"

# A cycle: app1 <- db(backup) <- app1(app).
t=$(look --host 10.202.0.21 --direction in --depth 3)
expect_line '10\.202\.0\.21:many \(app, pgid [0-9]+\)  connections 2  to :5432 \(postgres\)  \(cycle\)$' "$t" "cycle"
echo "ok: cycle marked"

# JSON and DOT of the same answer.
look --host 10.202.0.30 --direction in --depth 2 --format json |
        jq -e '(.in | length) == 2 and ([.in[] | select(.port == 5432) | .children[].connections] | add) == 5' \
        >/dev/null || fail "look --format json"
# DOT: one node per endpoint, app2's app client -> db's postgres server.
t=$(look --host 10.202.0.30 --direction in --format dot)
client=$(sed -n 's/^ *\(n[0-9]*\) \[label="app21 10\.202\.0\.22\\napp, pgid [0-9]*".*/\1/p' <<<"$t")
server=$(sed -n 's/^ *\(n[0-9]*\) \[label="db1 10\.202\.0\.30:5432\\npostgres, pgid [0-9]*".*/\1/p' <<<"$t")
[ -n "$client" ] && [ -n "$server" ] && grep -q "^  $client -> $server \[label=\"3 conns\"\];" <<<"$t" ||
        { echo "$t" >&2; fail "look --format dot"; }
echo "ok: json and dot"

# Roles: fold hosts into service:role.
cat >"$E2E_TMP/roles" <<EOF2
# the lab fleet
10.202.0.10      shop:lb
10.202.0.20/30   shop:app
10.202.0.30      shop:db   dc=lab name=primary
cache*           shop:cache
EOF2
nd roles import "$E2E_TMP/roles" | grep -q "imported 4 role rules" || fail "roles import"
nd roles list | grep -q "^cache\* *shop:cache" || fail "roles list"
t=$(look --role shop:db --group-by role --direction in --depth 2 --port 5432)
expect_line '^shop:db:5432 \(postgres, pgid [0-9]+\)$' "$t" "role"
expect_line '^└<-- shop:app:many \(app(, pgid [0-9]+| ×2)?\)  connections 5$' "$t" "role"
expect_line '^     ├<-- shop:db:many \(backup, pgid [0-9]+\)  connections 1  to :8080 \(app\)  \(cycle\)$' "$t" "role"
expect_line '^     └<-- shop:lb:many \(nginx, pgid [0-9]+\)  connections 7  to :8080 \(app\)$' "$t" "role"
t=$(look --host 10.202.0.21 --group-by role --direction out)
expect_line '^├--> shop:cache:6379 \(redis, pgid [0-9]+\)  connections 1$' "$t" "role by hostname glob"
echo "ok: roles and --group-by role"

# Time: the legacy edge stops; past the next observation bucket it is out
# of a range that starts there, still in the whole history, and diff says
# it vanished.
kill "$legacy_client" "$legacy_server"
stopped=$(date +%s)
boundary=$(( (stopped + 2 + 59) / 60 * 60 ))
echo "waiting $((boundary + 3 - $(date +%s))) s for the next observation bucket"
while [ "$(date +%s)" -lt $((boundary + 3)) ]; do sleep 1; done
since=$(date -u -d "@$boundary" +%Y-%m-%dT%H:%M:%SZ)
before=$(date -u -d "@$((boundary - 600))" +%Y-%m-%dT%H:%M:%SZ)..$(date -u -d "@$((boundary - 1))" +%Y-%m-%dT%H:%M:%SZ)

t=$(look --host 10.202.0.30 --direction in --since "$since")
grep -q legacy <<<"$t" && { echo "$t" >&2; fail "--since $since must leave out the legacy edge"; }
expect_line 'app, pgid' "$t" "--since keeps the live edges"
look --host 10.202.0.30 --direction in | grep -q legacy || fail "the whole history keeps the legacy edge"
echo "ok: time range leaves out an edge that existed only earlier"

t=$(nd diff --host 10.202.0.30 --before "$before" --after "$since..0s")
expect_line '^- app11 10\.202\.0\.21:many \(legacy\) --> primary 10\.202\.0\.30:3306 \(mysql\)  connections 2  seen in [0-9]+ of 10 min$' "$t" "diff"
expect_line '^0 appeared, 1 vanished, 0 intermittent, [0-9]+ unchanged$' "$t" "diff"
echo "ok: diff shows the vanished edge"

# Errors.
status=0; look --host 10.9.9.9 2>"$E2E_TMP/err" || status=$?
[ "$status" = 1 ] && grep -q "no edges for 10.9.9.9 between" "$E2E_TMP/err" || fail "no edges: exit 1 ($status)"
status=0; look --host nosuchhost 2>/dev/null || status=$?
[ "$status" = 1 ] || fail "unknown hostname: exit 1"
# diff agrees with look: an address with no edges in either range, exit 1.
status=0; nd diff --host 10.9.9.9 --before 2h..1h --after 1h..0s 2>"$E2E_TMP/err" || status=$?
[ "$status" = 1 ] && grep -q "no edges for 10.9.9.9 in either range" "$E2E_TMP/err" ||
        { cat "$E2E_TMP/err" >&2; fail "diff of a host never seen: exit $status, not 1"; }
# Hostnames, like DNS names and role globs, have no case.
look --host DB1 --direction in --depth 1 --port 5432 | grep -q "postgres" || fail "look --host DB1 (db1)"
for bad in "--depth 11" "--depth 0" "--since tomorrow" "--role nocolon" "--direction up" "--format svg"; do
        status=0; look --host 10.202.0.30 $bad 2>/dev/null || status=$?
        [ "$status" = 2 ] || fail "look $bad: exit $status, not 2"
done
printf '10.0.0.0/33 shop:x\n' >"$E2E_TMP/bad-roles"
status=0; nd roles import "$E2E_TMP/bad-roles" 2>"$E2E_TMP/err" || status=$?
[ "$status" = 1 ] && grep -q "bad-roles:line 1: invalid address or CIDR '10.0.0.0/33'" "$E2E_TMP/err" ||
        { cat "$E2E_TMP/err" >&2; fail "malformed roles file"; }
# A file with no rule would wipe them all: refused unless asked.
printf '# nothing here yet\n\n' >"$E2E_TMP/empty-roles"
status=0; nd roles import "$E2E_TMP/empty-roles" 2>"$E2E_TMP/err" || status=$?
[ "$status" = 1 ] && grep -q "empty-roles holds no role rule" "$E2E_TMP/err" ||
        { cat "$E2E_TMP/err" >&2; fail "empty roles file: exit $status"; }
nd roles list | grep -q "^cache\* *shop:cache" || fail "an empty roles file wiped the rules"
nd roles import "$E2E_TMP/empty-roles" --allow-empty | grep -q "imported 0 role rules" ||
        fail "roles import --allow-empty"
[ -z "$(nd roles list)" ] || fail "roles import --allow-empty left rules"
nd roles import "$E2E_TMP/roles" | grep -q "imported 4 role rules" || fail "roles import again"
echo "ok: errors"

# SIGTERM: agents write a final flush and exit 0.
kill -TERM "${AGENTS[@]}"
for pid in "${AGENTS[@]}"; do
        wait "$pid" || fail "agent $pid exited $?"
done
AGENTS=()
echo "ok: agents stop cleanly"
