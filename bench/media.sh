#!/usr/bin/env bash
# bench/media.sh — simultaneous real-time fax calls through media/ in two processes.
#
# Usage: bench/media.sh [BUILD_DIR [G711_CALLS [T38_CALLS]]]   (default /work/main/build 100 250)
#
# Runs two bench/media_bench processes at once (each with its own worker pool, THREADS =
# BENCH_THREADS, default 2) carrying G711_CALLS G.711 A-law calls each, then two carrying
# T38_CALLS T.38 calls each (UDPTL redundancy 3): 2 × G711_CALLS and 2 × T38_CALLS calls in
# all, each call two fax endpoints on 127.0.0.1, page 1 of tests/data/fixtures/fax_g3_fine.tif,
# real time. The issue's targets are 200 G.711 and 500 T.38 calls across two processes, so
# the defaults are 100 and 250 per process. Prints each process's RESULT/POOL lines (see
# media_bench.c), the calls that failed, and the machine's load and CPU pressure before and
# after each step (the machine is shared: other work changes the outcome).
# Exit status: 0 every call of both steps succeeded, 1 some failed, 2 could not run.
set -euo pipefail

BUILD=${1:-/work/main/build}
G711=${2:-100}
T38=${3:-250}
SRC=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$BUILD/bench/media_bench
TIFF=$SRC/tests/data/fixtures/fax_g3_fine.tif
THREADS=${BENCH_THREADS:-2}
[ -x "$BENCH" ] && [ -f "$TIFF" ] || { echo "media.sh: need $BENCH and $TIFF" >&2; exit 2; }
OUT=$(mktemp -d /tmp/media-bench-XXXXXX)
trap 'rm -rf "$OUT"' EXIT

context() {
    echo "  $(date -u +%H:%M:%S) load: $(cut -d' ' -f1-3 /proc/loadavg)" \
         "cpu pressure: $(head -1 /proc/pressure/cpu 2>/dev/null || echo n/a)"
}

status=0
step() { # kind calls
    echo "== $2 $1 calls per process, 2 processes, $THREADS threads each"
    context
    "$BENCH" "$TIFF" "$2" "$1" "$THREADS" 20000 >"$OUT/a.txt" 2>"$OUT/a.err" & local a=$!
    "$BENCH" "$TIFF" "$2" "$1" "$THREADS" 30000 >"$OUT/b.txt" 2>"$OUT/b.err" & local b=$!
    local ra=0 rb=0
    wait $a || ra=$?
    wait $b || rb=$?
    context
    for f in a b; do
        grep -E '^(RESULT|POOL)' "$OUT/$f.txt" | sed 's/^/  /'
        echo "  failed calls: $(grep -c "^call" "$OUT/$f.txt" || true)"
        { grep "^call" "$OUT/$f.txt" || true; } | head -3 | sed "s/^/    /"
    done
    if [ $ra -eq 2 ] || [ $rb -eq 2 ]; then cat "$OUT"/*.err >&2; exit 2; fi
    if [ $ra -ne 0 ] || [ $rb -ne 0 ]; then status=1; fi
}

step pcma "$G711"
step t38 "$T38"
exit $status
