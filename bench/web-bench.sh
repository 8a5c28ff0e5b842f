#!/bin/bash
# web-bench: how long a 2,000-host fleet takes to open as roles in headless
# Chromium, against what the server spends answering the page
# (bench/web-bench.mjs does the work; docs/BENCHMARKS.md).
#
#   bench/web-bench.sh BUILD_DIR [--hosts 2000] [--cold 5] [--warm 3]
#
# No root: a throwaway SQLite store in a temporary folder, netdep serve on
# 127.0.0.1 without tokens. Needs node, npm and Debian's chromium. Exit
# status: 0 target met, 1 the bench failed, 2 usage, 3 target missed.
set -euo pipefail

usage() { echo "usage: $0 BUILD_DIR [--hosts N] [--cold N] [--warm N]" >&2; exit 2; }
[ $# -ge 1 ] || usage
BUILD=$(cd "$1" && pwd) || usage
shift
TOP=$(cd "$(dirname "$0")/.." && pwd)
NETDEP="$BUILD/netdep"
[ -x "$NETDEP" ] || { echo "web-bench: no $NETDEP (ninja -C $BUILD)" >&2; exit 1; }
for tool in node npm; do
        command -v "$tool" >/dev/null || { echo "web-bench: $tool is missing" >&2; exit 1; }
done
CHROMIUM=${ND_CHROMIUM:-$(command -v chromium || true)}
[ -n "$CHROMIUM" ] || { echo "web-bench: no chromium" >&2; exit 1; }

# puppeteer-core as tests/browser/package-lock.json pins it, once per lock.
WORK="$BUILD/bench/web-bench-npm"
"$TOP/tests/browser/install.sh" "$WORK" || { echo "web-bench: npm ci for puppeteer-core failed" >&2; exit 1; }
# Bare imports resolve from the script's own folder: run it from there.
cp "$TOP/bench/web-bench.mjs" "$WORK/"

TMP=$(mktemp -d /tmp/web-bench.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
export ND_NETDEP="$NETDEP" ND_CHROMIUM="$CHROMIUM" ND_TMP="$TMP"
ND_COMMIT=$(git -C "$TOP" rev-parse --short HEAD 2>/dev/null || echo unknown)
export ND_COMMIT
status=0
timeout 150 node "$WORK/web-bench.mjs" "$@" || status=$?
[ "$status" -ne 124 ] || { echo "web-bench: timed out" >&2; exit 1; }
exit "$status"
