#!/usr/bin/env bash
# bench/upload_rss.sh — how much faxd's resident memory grows while it receives one large
# upload (U1, POST /v3/accounts/self/files, multipart part fax_file).
#
# Usage: bench/upload_rss.sh [BUILD_DIR]        (default /work/main/build)
# Environment (optional): BENCH_UPLOAD_BYTES (default 30000000, i.e. 30 MB; faxd's
#   fax.max_bytes default is 31457280), BENCH_KEEP=1 keeps the temp dir.
#
# Steps: temp data dir, account and token (faxctl) -> faxd starts -> a 64 KiB upload warms
# the allocator, the worker thread stacks and the SQLite connection -> VmRSS is read from
# /proc/PID/status and the peak (VmHWM) is reset to it (echo 5 > /proc/PID/clear_refs) ->
# the 30 MB file of random bytes is uploaded with curl (streamed from disk) -> VmRSS and
# VmHWM are read again -> the stored blob's sha256 is checked against the file's.
# Goal: peak growth (VmHWM after - VmRSS before) below 4 MiB. Exit 0 PASS, 1 FAIL, 2 error.
set -euo pipefail

BUILD=${1:-/work/main/build}
BUILD=$(cd "$BUILD" && pwd)
FAXD=$BUILD/src/faxd
FAXCTL=$BUILD/tools/faxctl
BYTES=${BENCH_UPLOAD_BYTES:-30000000}
LIMIT_KB=4096
PY=/usr/bin/python3

die() { echo "upload_rss: $*" >&2; exit 2; }
for b in "$FAXD" "$FAXCTL"; do [[ -x $b ]] || die "missing $b (build the project first)"; done
for t in curl sqlite3 sha256sum "$PY"; do command -v "$t" >/dev/null || die "missing tool: $t"; done

TMP=$(mktemp -d /tmp/faxd-bench-upload.XXXXXX)
FAXD_PID=
cleanup() {
    if [[ -n $FAXD_PID ]] && kill -0 "$FAXD_PID" 2>/dev/null; then
        kill -TERM "$FAXD_PID" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$FAXD_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$FAXD_PID" 2>/dev/null || true
        wait "$FAXD_PID" 2>/dev/null || true
    fi
    if [[ ${BENCH_KEEP:-} == 1 ]]; then echo "upload_rss: kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 2' INT TERM

DATA=$TMP/data
mkdir -p "$DATA"
PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export FAXD_GENERAL_DATA_DIR=$DATA FAXD_HTTP_ADDRESS=127.0.0.1 FAXD_HTTP_PORT=$PORT

json_field() { "$PY" -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
UID_=$("$FAXCTL" --json account create --type individual | json_field uid)
TOKEN=$("$FAXCTL" --json token create --account "$UID_" | json_field token)

"$FAXD" >"$TMP/faxd.log" 2>&1 &
FAXD_PID=$!
for _ in $(seq 100); do
    kill -0 "$FAXD_PID" 2>/dev/null || die "faxd exited during start-up: $(tail -5 "$TMP/faxd.log")"
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then break; fi
    sleep 0.1
done

status_kb() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$FAXD_PID/status"; }

upload() { # file -> prints the stored path; fails unless 200 {"path"}
    local code
    code=$(curl -sS --max-time 120 -o "$TMP/upload.json" -w '%{http_code}' \
        -H "Authorization: Bearer $TOKEN" -F "fax_file=@$1;type=application/octet-stream" \
        "http://127.0.0.1:$PORT/v3/accounts/self/files") || die "curl failed"
    [[ $code == 200 ]] || die "upload answered $code: $(head -c 300 "$TMP/upload.json")"
    json_field path <"$TMP/upload.json"
}

head -c 65536 /dev/urandom >"$TMP/small.bin"
head -c "$BYTES" /dev/urandom >"$TMP/big.bin"
WANT_SHA=$(sha256sum "$TMP/big.bin" | cut -d' ' -f1)

upload "$TMP/small.bin" >/dev/null  # warm-up
sleep 0.2
RSS0=$(status_kb VmRSS)
HWM0=$(status_kb VmHWM)
if echo 5 >"/proc/$FAXD_PID/clear_refs" 2>/dev/null; then
    HWM_RESET=yes
else
    HWM_RESET="no (VmHWM includes the start-up peak)"
fi
HWM0R=$(status_kb VmHWM)

t0=$(date +%s%N)
PATH_=$(upload "$TMP/big.bin")
t1=$(date +%s%N)
RSS1=$(status_kb VmRSS)
HWM1=$(status_kb VmHWM)

# The stored blob must be the uploaded bytes.
ROW=$(sqlite3 "$DATA/faxd.db" "SELECT sha256 || ' ' || blob || ' ' || size FROM uploads WHERE path = '$PATH_'")
read -r DB_SHA BLOB SIZE <<<"$ROW"
[[ -n ${BLOB:-} ]] || die "no uploads row for $PATH_"
BLOB_SHA=$(sha256sum "$DATA/blobs/$BLOB" | cut -d' ' -f1)

kill -TERM "$FAXD_PID"
wait "$FAXD_PID" && RC=0 || RC=$?
FAXD_PID=

MS=$(( (t1 - t0) / 1000000 ))
echo "=== U1 upload of $BYTES random bytes (curl -F fax_file=@file), $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "upload: 200 path=$PATH_ in $MS ms ($("$PY" -c "print('%.0f' % ($BYTES / 1048576 / max($MS, 1) * 1000))") MiB/s, including fsync)"
echo "stored: size=$SIZE sha256 db=${DB_SHA:0:16}… blob=${BLOB_SHA:0:16}… file=${WANT_SHA:0:16}…"
echo "VmRSS before (warm): $RSS0 kB   VmHWM before: $HWM0 kB (reset to $HWM0R kB: $HWM_RESET)"
echo "VmRSS after:         $RSS1 kB   VmHWM after:  $HWM1 kB"
PEAK=$((HWM1 - RSS0))
GROW=$((RSS1 - RSS0))
echo "increase: peak (VmHWM after - VmRSS before) = $PEAK kB; resident (VmRSS after - before) = $GROW kB; limit $LIMIT_KB kB"
echo "faxd exit status after SIGTERM: $RC"

fail=()
[[ $SIZE == "$BYTES" ]] || fail+=("stored size $SIZE != $BYTES")
[[ $DB_SHA == "$WANT_SHA" ]] || fail+=("uploads.sha256 differs from the file's")
[[ $BLOB_SHA == "$WANT_SHA" ]] || fail+=("the stored blob differs from the file")
((PEAK < LIMIT_KB)) || fail+=("peak growth $PEAK kB >= $LIMIT_KB kB")
((GROW < LIMIT_KB)) || fail+=("resident growth $GROW kB >= $LIMIT_KB kB")
[[ $RC == 0 ]] || fail+=("faxd exited $RC")
if ((${#fail[@]} == 0)); then
    echo "PASS"
    exit 0
fi
echo "FAIL: $(printf '%s; ' "${fail[@]}" | sed 's/; $//')"
exit 1
