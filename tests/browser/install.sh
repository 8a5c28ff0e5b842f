#!/bin/bash
# install.sh WORK: puppeteer-core, as this folder's package-lock.json pins
# it, into WORK/node_modules, once per lock. Shared by tests/e2e/web.sh and
# bench/web-bench.sh. Exit 1, with npm's last lines, when npm ci fails.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$1
mkdir -p "$work"
if ! cmp -s "$here/package-lock.json" "$work/installed-lock.json" || [ ! -d "$work/node_modules/puppeteer-core" ]; then
        cp "$here/package.json" "$here/package-lock.json" "$work/"
        (cd "$work" && npm ci --ignore-scripts --no-audit --no-fund --prefer-offline >npm.log 2>&1) ||
                { tail -5 "$work/npm.log" >&2; exit 1; }
        cp "$here/package-lock.json" "$work/installed-lock.json"
fi
