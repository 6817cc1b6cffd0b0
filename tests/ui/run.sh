#!/bin/sh
# Runs the web interface's browser test (CTest's ui/web): installs playwright-core from
# the npm registry as pinned by package-lock.json into FAXD_UI_WORK (the build tree,
# so the source tree stays clean; skipped when the lock file has not changed), then
# runs ui.test.mjs with node's test runner against Debian's /usr/bin/chromium.
set -eu
src=$(cd "$(dirname "$0")" && pwd)
work=${FAXD_UI_WORK:-$src/../../build/ui}
mkdir -p "$work"
cp "$src/package.json" "$src/package-lock.json" "$src/ui.test.mjs" "$work/"
cd "$work"
if ! cmp -s package-lock.json node_modules/.faxd-lock 2>/dev/null; then
    npm ci --no-audit --no-fund --loglevel=error
    cp package-lock.json node_modules/.faxd-lock
fi
exec node --test ui.test.mjs
