#!/usr/bin/env bash
# bench/webhooks.sh — webhook delivery throughput (issue 6): N deliveries sent by faxd's
# notifier to a local receiver, against curl in a shell loop sending the same number of
# signed requests to the same receiver in the same run.
#
# Usage: bench/webhooks.sh [BUILD_DIR]        (default /work/main/build)
#   BUILD_DIR must hold src/faxd, tools/faxctl and bench/hook_sink.
# Environment (all optional): BENCH_DELIVERIES (default 10000), BENCH_CURL (requests in
#   the curl loop, default the same), BENCH_KEEP=1 keeps the temp dir.
#
# Steps: faxctl creates the schema, an account and one fax record (fax import) -> one
# sqlite3 transaction adds N pending deliveries of that record to the receiver ->
# hook_sink (libmicrohttpd, 204 to every POST) starts -> faxd starts and delivers; the
# time from faxd's start to the last delivery recorded `done` gives deliveries/s, and
# /proc gives faxd's memory -> the receiver's count must be exactly N (no repeats) -> the
# curl loop posts one delivery's body with the same headers N times -> summary.
# PASS when every delivery arrived exactly once and faxd is faster than the curl loop.
# Exit status: 0 PASS, 1 FAIL, 2 the benchmark could not run. 127.0.0.1 only.
set -euo pipefail

BUILD=${1:-/work/main/build}
BUILD=$(cd "$BUILD" && pwd)
FAXD=$BUILD/src/faxd
FAXCTL=$BUILD/tools/faxctl
SINK=$BUILD/bench/hook_sink
N=${BENCH_DELIVERIES:-10000}
NCURL=${BENCH_CURL:-$N}
PY=/usr/bin/python3
HERE=$(cd "$(dirname "$0")" && pwd)
FAXFILE=$HERE/../tests/data/fixtures/fax_g3_fine.tif

die() { echo "webhooks: $*" >&2; exit 2; }
for b in "$FAXD" "$FAXCTL" "$SINK"; do [[ -x $b ]] || die "missing $b (build the project first)"; done
for t in sqlite3 curl "$PY"; do command -v "$t" >/dev/null || die "missing tool: $t"; done

TMP=$(mktemp -d /tmp/faxd-bench-hooks.XXXXXX)
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    if [[ ${BENCH_KEEP:-} == 1 ]]; then echo "webhooks: kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 2' INT TERM

free_port() {
    "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
json_field() { "$PY" -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

DATA=$TMP/data
mkdir -p "$DATA"
FAXD_PORT=$(free_port)
SINK_PORT=$(free_port)
export FAXD_GENERAL_DATA_DIR=$DATA FAXD_HTTP_ADDRESS=127.0.0.1 FAXD_HTTP_PORT=$FAXD_PORT
export FAXD_WEBHOOK_ALLOW_PRIVATE=on FAXD_CONVERT_WORKERS=1 FAXD_LINE_CHANNELS=1

UID_=$("$FAXCTL" --json account create --type individual | json_field uid)
FAX_ID=$("$FAXCTL" --json fax import --account "$UID_" --file "$FAXFILE" \
    --from +12025550100 --to +12025550101 | json_field id)
TARGET="http://127.0.0.1:$SINK_PORT/hook"
NOW=$(date +%s)
sqlite3 "$DATA/faxd.db" >/dev/null <<SQL
PRAGMA journal_mode=WAL;
BEGIN;
WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < $N)
INSERT INTO deliveries (id, hook_id, uid, fax_id, event, target, next_at, created)
SELECT lower(hex(randomblob(16))), 'bench0000000000000000000000000000', '$UID_', '$FAX_ID',
       'fax_received', '$TARGET', 0, $NOW FROM seq;
COMMIT;
SQL

"$SINK" "$SINK_PORT" >"$TMP/sink.out" 2>&1 &
SINK_PID=$!
PIDS+=("$SINK_PID")
for _ in $(seq 50); do grep -q ready "$TMP/sink.out" 2>/dev/null && break; sleep 0.1; done

done_count() { sqlite3 "$DATA/faxd.db" "SELECT COUNT(*) FROM deliveries WHERE state='done'"; }
t0=$(now_ms)
"$FAXD" >"$TMP/faxd.log" 2>&1 &
FAXD_PID=$!
PIDS+=("$FAXD_PID")
while :; do
    kill -0 "$FAXD_PID" 2>/dev/null || die "faxd exited (see $TMP/faxd.log)"
    [[ $(done_count) -ge $N ]] && break
    sleep 0.1
    (( $(now_ms) - t0 > 600000 )) && die "deliveries not done after 10 minutes"
done
t1=$(now_ms)
HWM_KB=$(awk '/VmHWM/ {print $2}' /proc/$FAXD_PID/status)
RSS_KB=$(awk '/VmRSS/ {print $2}' /proc/$FAXD_PID/status)
kill -TERM "$FAXD_PID"; wait "$FAXD_PID" 2>/dev/null || true
sleep 0.5
kill -TERM "$SINK_PID"; wait "$SINK_PID" 2>/dev/null || true
GOT=$(tail -1 "$TMP/sink.out")
PIDS=()
FAILED=$(sqlite3 "$DATA/faxd.db" "SELECT COUNT(*) FROM deliveries WHERE state<>'done'")

# --- the curl loop: the same receiver, one delivery's body and headers, one process each
"$SINK" "$SINK_PORT" >"$TMP/sink2.out" 2>&1 &
SINK_PID=$!
PIDS+=("$SINK_PID")
for _ in $(seq 50); do grep -q ready "$TMP/sink2.out" 2>/dev/null && break; sleep 0.1; done
"$PY" - "$TMP/body.json" "$FAX_ID" "$UID_" "$TARGET" <<'PY'
import json, sys
path, fax, uid, target = sys.argv[1:]
body = {"hook": {"id": fax, "event": "fax_received", "event_time": "2026-11-27 12:00:00",
                 "target": target},
        "data": {"id": fax, "uid": uid, "pages": 1, "from": "+12025550100",
                 "to": "+12025550101", "from_number": "+12025550100",
                 "to_number": "+12025550101", "start_time": "2026-11-27 12:00:00",
                 "file": fax + ".tiff", "file_name": "fax-from-+12025550100", "cost": 1,
                 "status": "success"}}
open(path, "w").write(json.dumps(body, separators=(",", ":")))
PY
c0=$(now_ms)
for _ in $(seq "$NCURL"); do
    curl -s -o /dev/null -X POST -H 'Content-Type: application/json' \
        -H "X-Faxd-Timestamp: $NOW" -H "X-Faxd-Signature: $(printf '%064d' 0)" \
        -H "X-Faxd-Delivery: $FAX_ID" --data-binary "@$TMP/body.json" "$TARGET"
done
c1=$(now_ms)
kill -TERM "$SINK_PID"; wait "$SINK_PID" 2>/dev/null || true
GOT2=$(tail -1 "$TMP/sink2.out")
PIDS=()

"$PY" - "$N" "$t0" "$t1" "$GOT" "$FAILED" "$NCURL" "$c0" "$c1" "$GOT2" "$HWM_KB" "$RSS_KB" <<'PY'
import sys
n, t0, t1, got, failed, nc, c0, c1, got2, hwm, rss = map(int, sys.argv[1:])
fr = n / ((t1 - t0) / 1000)
cr = nc / ((c1 - c0) / 1000)
print("deliveries: %d" % n)
print("faxd:      %8.0f deliveries/s  (%.1f s from start to the last recorded done; "
      "receiver counted %d; not done %d)" % (fr, (t1 - t0) / 1000, got, failed))
print("           peak RSS %.1f MB, RSS at the end %.1f MB" % (hwm / 1024, rss / 1024))
print("curl loop: %8.0f requests/s    (%.1f s for %d; receiver counted %d)" % (
    cr, (c1 - c0) / 1000, nc, got2))
print("ratio faxd/curl: %.1f" % (fr / cr))
ok = got == n and failed == 0 and got2 == nc and fr > cr
print("PASS" if ok else "FAIL")
sys.exit(0 if ok else 1)
PY
