#!/usr/bin/env bash
# bench/api_list.sh — throughput and latency of F1 (GET /v3/accounts/self/faxes?limit=50)
# against the libmicrohttpd ceiling (bench/ceiling.c: faxd's exact daemon options, fixed
# 1 KiB JSON reply).
#
# Usage: bench/api_list.sh [BUILD_DIR]        (default /work/main/build)
#   BUILD_DIR must hold src/faxd, tools/faxctl and bench/ceiling.
# Environment (all optional):
#   FAXD_HTTP_THREADS  worker threads for faxd and the ceiling (default 4, faxd's default)
#   BENCH_RECORDS      fax records seeded for the account (default 10000)
#   BENCH_DURATION     wrk duration (default 10s)    BENCH_CONNECTIONS  (default 64)
#   BENCH_WRK_THREADS  wrk threads (default 2)       BENCH_KEEP=1 keeps the temp dir
#   BENCH_QUERY        extra query string for the listing, e.g. "&category=inbox"
#   BENCH_SAME_BODY=0  skips the informational third run: the ceiling serving a body as
#                      large as faxd's page (default on)
#   BENCH_SEED_SQL     SQL run on the database after seeding, to try a schema change
#                      (e.g. an index) before writing its migration
#
# Steps: temp data dir -> faxctl creates the schema, an account and a token -> one sqlite3
# transaction seeds BENCH_RECORDS faxes (recursive CTE; inbox/sent mixed; distinct
# sort_time) -> faxd starts -> the endpoint is checked to return `limit` records, newest
# first -> warm-up -> wrk on faxd -> wrk on the ceiling (same thread count, same command)
# -> summary and PASS/FAIL (goal: faxd/ceiling requests/s >= 0.3 and faxd p99 < 20 ms).
# Exit status: 0 PASS, 1 FAIL, 2 the benchmark could not run.
# Everything listens on 127.0.0.1 only; every process started here is stopped on exit.
set -euo pipefail

BUILD=${1:-/work/main/build}
BUILD=$(cd "$BUILD" && pwd)
FAXD=$BUILD/src/faxd
FAXCTL=$BUILD/tools/faxctl
CEILING=$BUILD/bench/ceiling
THREADS=${FAXD_HTTP_THREADS:-4}
RECORDS=${BENCH_RECORDS:-10000}
DURATION=${BENCH_DURATION:-10s}
CONNS=${BENCH_CONNECTIONS:-64}
WRK_THREADS=${BENCH_WRK_THREADS:-2}
LIMIT=50
PY=/usr/bin/python3
GOAL_RATIO=0.3
GOAL_P99_MS=20

die() { echo "api_list: $*" >&2; exit 2; }
for b in "$FAXD" "$FAXCTL" "$CEILING"; do [[ -x $b ]] || die "missing $b (build the project first)"; done
for t in wrk sqlite3 curl "$PY"; do command -v "$t" >/dev/null || die "missing tool: $t"; done

TMP=$(mktemp -d /tmp/faxd-bench-list.XXXXXX)
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    if [[ ${BENCH_KEEP:-} == 1 ]]; then echo "api_list: kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 2' INT TERM

free_port() {
    "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_port() { # port pid
    for _ in $(seq 100); do
        kill -0 "$2" 2>/dev/null || die "process $2 exited during start-up (see $TMP)"
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    die "nothing listens on port $1 after 10 s"
}

DATA=$TMP/data
mkdir -p "$DATA"
FAXD_PORT=$(free_port)
export FAXD_GENERAL_DATA_DIR=$DATA FAXD_HTTP_ADDRESS=127.0.0.1 FAXD_HTTP_PORT=$FAXD_PORT
export FAXD_HTTP_THREADS=$THREADS

# --- schema (faxctl applies the migrations), account, token
json_field() { "$PY" -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
UID_=$("$FAXCTL" --json account create --type individual | json_field uid)
TOKEN=$("$FAXCTL" --json token create --account "$UID_" | json_field token)

# --- seed: one transaction, a recursive CTE. Rows alternate irregularly between inbox
# (incoming) and sent (outgoing), 3 of 5 inbox; sort_time goes back 263 s per record
# (10,000 records span about 30 days), so every sort_time is distinct.
t0=$(date +%s%N)
sqlite3 "$DATA/faxd.db" >/dev/null <<SQL
PRAGMA journal_mode=WAL;
BEGIN;
WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < $RECORDS),
rows AS (
  SELECT n,
         lower(hex(randomblob(16))) AS id,
         CASE WHEN (n * 7919) % 5 < 3 THEN 'inbox' ELSE 'sent' END AS category,
         1 + (n * 31) % 12 AS pages,
         CAST(strftime('%s', '2026-01-01 00:00:00') AS INTEGER) - n * 263 AS t
  FROM seq)
INSERT INTO faxes (id, owner_id, direction, category, status, pages, comment, cost,
                   cost_multiplier, description, duration, file, file_name, blob, src, dst,
                   header, is_read, is_spam, last_update, scheduled_time, start_time,
                   submit_time, sort_time, max_retry, retry_delay, cover_page, outbox_id)
SELECT id, '$UID_',
       CASE category WHEN 'inbox' THEN 'incoming' ELSE 'outgoing' END,
       category,
       CASE WHEN n % 23 = 0 THEN 'failed_user_busy' WHEN n % 37 = 0 THEN 'failed_no_answer'
            WHEN n % 41 = 0 THEN 'partially_sent' ELSE 'success' END,
       pages,
       CASE WHEN n % 4 = 0 THEN 'Invoice ' || (100000 + n) || ' for the March order' ELSE '' END,
       CASE category WHEN 'sent' THEN pages ELSE 0 END,
       1.0,
       CASE category WHEN 'inbox' THEN 'Received fax' ELSE 'Sent via API' END,
       pages * 31 + n % 17,
       id || '.tiff',
       CASE category WHEN 'inbox' THEN 'fax-from-+1202555' || printf('%04d', n % 10000)
                     ELSE 'fax-to-+1415555' || printf('%04d', (n * 13) % 10000) END,
       substr(id, 1, 2) || '/' || lower(hex(randomblob(16))) || '.tiff',
       CASE category WHEN 'inbox' THEN '+1202555' || printf('%04d', n % 10000) ELSE '+12125550100' END,
       CASE category WHEN 'inbox' THEN '+12125550100' ELSE '+1415555' || printf('%04d', (n * 13) % 10000) END,
       CASE category WHEN 'sent' THEN 'ACME Corp  +12125550100' ELSE '' END,
       CASE WHEN n > 200 OR n % 3 = 0 THEN 1 ELSE 0 END,
       0,
       t + 60 + n % 120,
       0,
       t,
       CASE category WHEN 'sent' THEN t - 30 ELSE 0 END,
       t,
       CASE category WHEN 'sent' THEN n % 3 ELSE 0 END,
       CASE category WHEN 'sent' THEN 10 ELSE 0 END,
       CASE WHEN category = 'sent' AND n % 10 = 0 THEN
         '{"name_to":"Jane Doe","name_from":"ACME Corp","subject":"Invoice ' || (100000 + n) ||
         '","flags":["urgent","please_reply"],"message":"Please find the invoice attached."}'
       ELSE '' END,
       CASE category WHEN 'sent' THEN lower(hex(randomblob(16))) ELSE '' END
FROM rows;
COMMIT;
SQL
t1=$(date +%s%N)
COUNT=$(sqlite3 "$DATA/faxd.db" "SELECT count(*) || ' (' || sum(category='inbox') || ' inbox, ' || sum(category='sent') || ' sent, ' || count(DISTINCT sort_time) || ' distinct sort_time)' FROM faxes WHERE owner_id='$UID_'")
echo "seeded $RECORDS records in $(( (t1 - t0) / 1000000 )) ms: $COUNT"
if [[ -n ${BENCH_SEED_SQL:-} ]]; then
    sqlite3 "$DATA/faxd.db" "$BENCH_SEED_SQL" || die "BENCH_SEED_SQL failed"
    echo "applied BENCH_SEED_SQL: $BENCH_SEED_SQL"
fi

# --- faxd
"$FAXD" >"$TMP/faxd.log" 2>&1 &
FAXD_PID=$!
PIDS+=("$FAXD_PID")
wait_port "$FAXD_PORT" "$FAXD_PID"

URL_PATH="/v3/accounts/self/faxes?limit=$LIMIT${BENCH_QUERY:-}"
FAXD_URL="http://127.0.0.1:$FAXD_PORT$URL_PATH"
curl -sS --max-time 10 -o "$TMP/list.json" -w '%{http_code} %{size_download}\n' \
    -H "Authorization: Bearer $TOKEN" "$FAXD_URL" >"$TMP/list.status"
read -r CODE BYTES <"$TMP/list.status"
[[ $CODE == 200 ]] || die "GET $URL_PATH answered $CODE: $(head -c 300 "$TMP/list.json")"
"$PY" - "$TMP/list.json" "$LIMIT" "$DATA/faxd.db" "$UID_" "$URL_PATH" <<'PY' || die "the listing is wrong"
import json, sqlite3, sys, urllib.parse
path, limit, db, uid, url = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
category = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query).get("category", [None])[0]
recs = json.load(open(path))["data"]["records"]
assert len(recs) == limit, "expected %d records, got %d" % (limit, len(recs))
c = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
cats = (category,) if category else ("inbox", "sent")  # no category: inbox and sent
want = [r[0] for r in c.execute(
    "SELECT id FROM faxes WHERE owner_id=? AND category IN (%s) "
    "ORDER BY sort_time DESC, id DESC LIMIT ?" % ",".join("?" * len(cats)),
    (uid,) + cats + (limit,))]
got = [r["id"] for r in recs]
assert got == want, "records are not the %d newest, newest first" % limit
assert all(r["owner_id"] == uid for r in recs)
PY
echo "verified: GET $URL_PATH -> 200, $LIMIT records (the newest, newest first), $BYTES bytes"

# --- wrk helpers
WRK_ARGS=(-t"$WRK_THREADS" -c"$CONNS" -d"$DURATION" --latency -H "Authorization: Bearer $TOKEN")
parse_wrk() { # file -> "rps p50_ms p99_ms non2xx socket_errors"
    "$PY" - "$1" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
def ms(v, u):
    return float(v) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[u]
lat = {m.group(1): ms(m.group(2), m.group(3))
       for m in re.finditer(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s|m)\s*$", t, re.M)}
rps = re.search(r"^Requests/sec:\s+([\d.]+)", t, re.M)
non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", t)
sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", t)
if not rps or "50" not in lat or "99" not in lat:
    sys.exit("cannot parse wrk output")
errs = sum(int(x) for x in sock.groups()) if sock else 0
print("%.2f %.3f %.3f %d %d" % (float(rps.group(1)), lat["50"], lat["99"],
                                 int(non2xx.group(1)) if non2xx else 0, errs))
PY
}

run_wrk() { # name url -> prints wrk output, leaves it in $TMP/NAME.wrk
    local name=$1 url=$2
    timeout 60 wrk -t"$WRK_THREADS" -c"$CONNS" -d3s -H "Authorization: Bearer $TOKEN" "$url" \
        >"$TMP/$name.warmup" 2>&1 || die "wrk warm-up failed on $name"
    echo
    echo "### $name: wrk ${WRK_ARGS[*]/$TOKEN/TOKEN} $url"
    timeout 120 wrk "${WRK_ARGS[@]}" "$url" >"$TMP/$name.wrk" 2>&1 || die "wrk failed on $name"
    cat "$TMP/$name.wrk"
}

run_wrk faxd "$FAXD_URL"
F_STATS=$(parse_wrk "$TMP/faxd.wrk") || die "cannot parse wrk output for faxd"
read -r F_RPS F_P50 F_P99 F_NON2XX F_SOCKERR <<<"$F_STATS"
FAXD_RSS=$(awk '/^VmRSS/ {print $2 " " $3}' "/proc/$FAXD_PID/status")
kill -TERM "$FAXD_PID"
wait "$FAXD_PID" && FAXD_RC=0 || FAXD_RC=$?
PIDS=()

# --- the ceiling, same thread count, same wrk command
CEIL_PORT=$(free_port)
"$CEILING" "$CEIL_PORT" "$THREADS" >"$TMP/ceiling.log" 2>&1 &
CEIL_PID=$!
PIDS+=("$CEIL_PID")
wait_port "$CEIL_PORT" "$CEIL_PID"
run_wrk ceiling "http://127.0.0.1:$CEIL_PORT$URL_PATH"
C_STATS=$(parse_wrk "$TMP/ceiling.wrk") || die "cannot parse wrk output for the ceiling"
read -r C_RPS C_P50 C_P99 C_NON2XX C_SOCKERR <<<"$C_STATS"

# --- informational: the ceiling with a body as large as faxd's page, which separates the
# cost of moving ~30 KB per reply from the cost of producing it. Not part of PASS/FAIL.
S_RPS=""
if [[ ${BENCH_SAME_BODY:-1} != 0 ]]; then
    kill -TERM "$CEIL_PID"; wait "$CEIL_PID" 2>/dev/null || true
    PIDS=()
    "$CEILING" "$CEIL_PORT" "$THREADS" "$BYTES" >"$TMP/ceiling_body.log" 2>&1 &
    CEIL_PID=$!
    PIDS+=("$CEIL_PID")
    wait_port "$CEIL_PORT" "$CEIL_PID"
    run_wrk ceiling_body "http://127.0.0.1:$CEIL_PORT$URL_PATH"
    S_STATS=$(parse_wrk "$TMP/ceiling_body.wrk") || die "cannot parse wrk output"
    read -r S_RPS S_P50 S_P99 S_NON2XX S_SOCKERR <<<"$S_STATS"
fi

# --- summary
echo
echo "=== GET $URL_PATH ($RECORDS records, http.threads=$THREADS, wrk -t$WRK_THREADS -c$CONNS -d$DURATION, $(nproc) cores, $(date -u '+%Y-%m-%d %H:%M UTC'))"
printf '%-8s %12s %10s %10s %8s %8s\n' "server" "requests/s" "p50 ms" "p99 ms" "non-2xx" "sockerr"
printf '%-8s %12.0f %10.2f %10.2f %8d %8d\n' faxd "$F_RPS" "$F_P50" "$F_P99" "$F_NON2XX" "$F_SOCKERR"
printf '%-8s %12.0f %10.2f %10.2f %8d %8d\n' ceiling "$C_RPS" "$C_P50" "$C_P99" "$C_NON2XX" "$C_SOCKERR"
[[ -z $S_RPS ]] || printf '%-8s %12.0f %10.2f %10.2f %8d %8d   (informational: ceiling with a %s-byte body)\n' \
    ceil-big "$S_RPS" "$S_P50" "$S_P99" "$S_NON2XX" "$S_SOCKERR" "$BYTES"
echo "faxd response body: $BYTES bytes; ceiling body: 1024 bytes; faxd VmRSS after the run: $FAXD_RSS; faxd exit status after SIGTERM: $FAXD_RC"
RATIO=$("$PY" -c "print('%.4f' % ($F_RPS / $C_RPS))")
echo "ratio faxd/ceiling: $RATIO (goal >= $GOAL_RATIO); faxd p99: $F_P99 ms (goal < $GOAL_P99_MS ms)"

verdict=PASS
reasons=()
[[ $F_NON2XX == 0 ]] || { verdict=FAIL; reasons+=("faxd answered $F_NON2XX non-2xx responses"); }
[[ $C_NON2XX == 0 ]] || { verdict=FAIL; reasons+=("the ceiling answered $C_NON2XX non-2xx responses"); }
[[ $F_SOCKERR == 0 ]] || { verdict=FAIL; reasons+=("wrk saw $F_SOCKERR socket errors/timeouts on faxd"); }
[[ $C_SOCKERR == 0 ]] || { verdict=FAIL; reasons+=("wrk saw $C_SOCKERR socket errors/timeouts on the ceiling"); }
[[ $FAXD_RC == 0 ]] || { verdict=FAIL; reasons+=("faxd exited $FAXD_RC after SIGTERM"); }
"$PY" -c "import sys; sys.exit(0 if $RATIO >= $GOAL_RATIO else 1)" ||
    { verdict=FAIL; reasons+=("ratio $RATIO < $GOAL_RATIO"); }
"$PY" -c "import sys; sys.exit(0 if $F_P99 < $GOAL_P99_MS else 1)" ||
    { verdict=FAIL; reasons+=("p99 $F_P99 ms >= $GOAL_P99_MS ms"); }
if [[ $verdict == PASS ]]; then
    echo "PASS"
    exit 0
fi
echo "FAIL: $(printf '%s; ' "${reasons[@]}" | sed 's/; $//')"
exit 1
