#!/usr/bin/env python3
"""bench/burst.py — 1,000 faxes submitted in one burst to sandbox numbers (issue 6).

Usage: bench/burst.py [BUILD_DIR]    (default /work/main/build; needs src/faxd, tools/faxctl)
Environment (optional): BENCH_FAXES (default 1000), BENCH_CLIENTS (parallel submitters,
default 16), FAXD_LINE_CHANNELS (default 8), BENCH_KEEP=1 keeps the temp dir.

A real faxd on 127.0.0.1 with the accelerated loopback line and a call log. One 1-page
document is uploaded; then BENCH_FAXES send requests (one sandbox destination each, no
retries: 70 % a receiving fax machine, the rest busy, no answer, unallocated, a hang-up
after the first page, a temporary failure, congestion) are posted by BENCH_CLIENTS threads
at once. The store is polled every 50 ms for final records. Reported: submit→final time
per fax (from the 201 answer to the record's appearance) p50/p90/p99/max, the burst's
wall time, faxes/s. PASS when every fax has exactly one final record with the status its
sandbox number produces and the call log shows exactly one call per fax.
Exit status: 0 PASS, 1 FAIL, 2 the benchmark could not run."""

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "/work/main/build")
FAXD, FAXCTL = os.path.join(BUILD, "src/faxd"), os.path.join(BUILD, "tools/faxctl")
N = int(os.environ.get("BENCH_FAXES", "1000"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "16"))
MIX = [("0001", "success", 70), ("0002", "failed_user_busy", 5),
       ("0003", "failed_no_answer", 5), ("0004", "failed_unallocated_number", 5),
       ("0009", "partially_sent", 5), ("0011", "failed_normal_temporary_failure", 5),
       ("0013", "failed_to_send", 5)]


def die(msg):
    print("burst: " + msg, file=sys.stderr)
    sys.exit(2)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def main():
    for b in (FAXD, FAXCTL):
        if not os.access(b, os.X_OK):
            die("missing %s (build the project first)" % b)
    tmp = tempfile.mkdtemp(prefix="faxd-bench-burst.")
    data = os.path.join(tmp, "data")
    os.mkdir(data)
    port = free_port()
    call_log = os.path.join(tmp, "calls.log")
    env = dict(os.environ, FAXD_GENERAL_DATA_DIR=data, FAXD_HTTP_ADDRESS="127.0.0.1",
               FAXD_HTTP_PORT=str(port), FAXD_LINE_CALL_LOG=call_log,
               FAXD_LINE_CHANNELS=os.environ.get("FAXD_LINE_CHANNELS", "8"),
               FAXD_LINE_LOOPBACK_SPEED="accelerated")
    faxd = None
    try:
        ctl = lambda *a: json.loads(subprocess.run([FAXCTL, "--json"] + list(a), env=env,
                                                   check=True, capture_output=True).stdout)
        uid = ctl("account", "create", "--type", "individual")["uid"]
        token = ctl("token", "create", "--account", uid)["token"]
        ctl("number", "add", "--account", uid, "--number", "+12025550100")
        faxd = subprocess.Popen([FAXD], env=env, stdout=open(os.path.join(tmp, "faxd.log"), "wb"),
                                stderr=subprocess.STDOUT)
        base = "http://127.0.0.1:%d/v3" % port
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            die("faxd did not start (see %s)" % tmp)

        def call(method, path, body=None, headers=None, ctype="application/json"):
            h = {"Authorization": "Bearer " + token}
            if body is not None:
                h["Content-Type"] = ctype
            h.update(headers or {})
            req = urllib.request.Request(base + path, data=body, method=method, headers=h)
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, json.loads(r.read() or b"null")

        doc = open(os.path.join(HERE, "../tests/data/fixtures/mixed_orientation.pdf"), "rb").read()
        boundary = "benchboundary"
        body = (("--%s\r\nContent-Disposition: form-data; name=\"fax_file\"; "
                 "filename=\"doc.pdf\"\r\nContent-Type: application/pdf\r\n\r\n" % boundary)
                .encode() + doc + ("\r\n--%s--\r\n" % boundary).encode())
        _, up = call("POST", "/accounts/self/files", body,
                     ctype="multipart/form-data; boundary=" + boundary)
        path = up["path"]

        plan = []
        for suffix, status, weight in MIX:
            plan += [(suffix, status)] * weight
        jobs = [plan[i % len(plan)] for i in range(N)]
        submitted = {}  # fax id -> (t_submit, expected status)
        lock = threading.Lock()
        errors = []

        def submitter(k):
            for i in range(k, N, CLIENTS):
                suffix, status = jobs[i]
                to = "+1555000" + suffix
                payload = {"from": "+12025550100", "to": [to], "files": [path],
                           "return_ids": True,
                           "options": {"retry": {"count": 0, "delay": 0}}}
                try:
                    code, r = call("POST", "/accounts/self/outbox", json.dumps(payload).encode())
                    t = time.monotonic()
                    with lock:
                        submitted[r["ids"][to]] = (t, status)
                except Exception as e:  # noqa: BLE001 - reported below
                    detail = e.read().decode() if hasattr(e, "read") else ""
                    with lock:
                        errors.append(repr(e) + " " + detail)

        t_start = time.monotonic()
        threads = [threading.Thread(target=submitter, args=(k,)) for k in range(CLIENTS)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        t_submitted = time.monotonic()
        if errors:
            print("burst: %d submissions failed, first: %s" % (len(errors), errors[0]))

        final = {}  # fax id -> (t_seen, status)
        db = sqlite3.connect(os.path.join(data, "faxd.db"), timeout=30)
        deadline = time.monotonic() + 1800
        while len(final) < len(submitted) and time.monotonic() < deadline:
            now = time.monotonic()
            for fid, st in db.execute("SELECT id, status FROM faxes WHERE direction = 'outgoing'"):
                if fid in submitted and fid not in final:
                    final[fid] = (now, st)
            time.sleep(0.05)
        t_end = time.monotonic()
        counts = dict(db.execute("SELECT id, COUNT(*) FROM faxes GROUP BY id").fetchall())
        db.close()

        calls = {}
        if os.path.exists(call_log):
            for line in open(call_log):
                for word in line.split():
                    if word.startswith("fax="):
                        calls[word[4:]] = calls.get(word[4:], 0) + 1
        lat = sorted(final[f][0] - submitted[f][0] for f in final)
        wrong = [(f, final[f][1], submitted[f][1]) for f in final if final[f][1] != submitted[f][1]]
        dup = [f for f, c in counts.items() if c != 1]
        bad_calls = [f for f in submitted if calls.get(f, 0) != 1]

        def pct(p):
            return lat[min(len(lat) - 1, int(p * len(lat)))] if lat else float("nan")

        print("faxes submitted: %d by %d clients in %.1f s (%d failed)" % (
            len(submitted), CLIENTS, t_submitted - t_start, len(errors)))
        print("final: %d in %.1f s from the first submission (%.1f faxes/s)" % (
            len(final), t_end - t_start, len(final) / (t_end - t_start)))
        print("submit -> final record: p50 %.2f s  p90 %.2f s  p99 %.2f s  max %.2f s" % (
            pct(0.50), pct(0.90), pct(0.99), lat[-1] if lat else float("nan")))
        print("wrong status: %d  duplicate records: %d  calls not exactly one: %d" % (
            len(wrong), len(dup), len(bad_calls)))
        if wrong:
            print("  e.g. %s" % (wrong[:3],))
        ok = (not errors and len(submitted) == N and len(final) == N and not wrong and not dup
              and not bad_calls)
        print("PASS" if ok else "FAIL")
        return 0 if ok else 1
    finally:
        if faxd is not None:
            faxd.terminate()
            try:
                faxd.wait(30)
            except subprocess.TimeoutExpired:
                faxd.kill()
        if os.environ.get("BENCH_KEEP") == "1":
            print("burst: kept " + tmp, file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
