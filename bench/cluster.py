#!/usr/bin/env python3
"""bench/cluster.py — faxd nodes on one PostgreSQL (issue 8, point 3).

Usage: bench/cluster.py [BUILD_DIR]   (default /work/main/build; needs src/faxd,
tools/faxctl, bench/claim_bench, tests/pg/pgctl.sh's PostgreSQL, wrk, psycopg2)
Environment (optional): BENCH_DURATION (seconds per wrk run, default 10),
BENCH_CONNECTIONS (wrk connections in all, default 16), BENCH_POOL (store.pool of each
node, default 4), BENCH_BACKLOG (due destinations for the claim bench, default 1000),
BENCH_KEEP=1 keeps the temp dir.

One throw-away PostgreSQL server (tests/pg/pgctl.sh, fsync off), then in one run:

(a) send requests: POST /v3/accounts/self/outbox (one sandbox destination, an uploaded
    1-page PDF) by wrk for BENCH_DURATION through one node, then through two nodes on the
    same database at once (one wrk per node, half the connections each), then through the
    one node again. The nodes are drained (SIGUSR1) once started, so their converters and
    dialers claim nothing: this measures accepting a send request (auth, validation, the
    outbox transaction), not converting or dialling it. Requests/s (two nodes: the sum)
    and p99 (two nodes: the worse of the two), and the ratios two/one against the mean
    of the two one-node runs.
(b) queue claims: bench/claim_bench on its own database of the same server — a dialer's
    fx_store_dest_claim with 1 due destination, then with BENCH_BACKLOG, p50/p99 and the
    ratio.
(c) connections: pg_stat_activity polled every 100 ms during (a), per node (connections
    are named faxd-<node>): most open and most active (not idle) at once. PASS when no node
    ever had more than BENCH_POOL open and no send request failed.

Both nodes run on this machine's cores, so two nodes cannot beat one here: the ratio
shows what sharing the store costs, not what a second machine would add.
Exit status: 0 PASS, 1 FAIL, 2 the benchmark could not run."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
from faxd_harness import fixture_bytes, free_port, http_request, multipart  # noqa: E402
BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "/work/main/build")
FAXD, FAXCTL = os.path.join(BUILD, "src/faxd"), os.path.join(BUILD, "tools/faxctl")
CLAIM_BENCH = os.path.join(BUILD, "bench/claim_bench")
PGCTL = os.path.join(HERE, "../tests/pg/pgctl.sh")
DURATION = int(os.environ.get("BENCH_DURATION", "10"))
CONNS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
POOL = int(os.environ.get("BENCH_POOL", "4"))
BACKLOG = int(os.environ.get("BENCH_BACKLOG", "1000"))


def die(msg):
    print("cluster: " + msg, file=sys.stderr)
    sys.exit(2)


def pg_admin(base, sql, db="postgres"):
    import psycopg2
    c = psycopg2.connect(base + "/" + db)
    try:
        c.autocommit = True
        cur = c.cursor()
        cur.execute(sql)
        return cur.fetchall() if cur.description else None
    finally:
        c.close()


class Node:
    def __init__(self, tmp, name, env):
        self.dir = os.path.join(tmp, name)
        os.makedirs(os.path.join(self.dir, "data"))
        self.port = free_port()
        self.env = dict(env, FAXD_GENERAL_DATA_DIR=os.path.join(self.dir, "data"),
                        FAXD_HTTP_PORT=str(self.port))
        self.log = open(os.path.join(self.dir, "faxd.log"), "wb")
        self.proc = subprocess.Popen([FAXD], env=self.env, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            die("faxd did not start (see %s)" % self.dir)
        self.proc.send_signal(signal.SIGUSR1)  # drained: accept, never convert or dial

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def wrk(port, conns, script):
    out = subprocess.run(["wrk", "-t1", "-c%d" % conns, "-d%ds" % DURATION, "--latency",
                          "-s", script, "http://127.0.0.1:%d/v3/accounts/self/outbox" % port],
                         capture_output=True, text=True, timeout=DURATION + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    m = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    p99 = float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errs = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    failures = (int(bad.group(1)) if bad else 0) + (sum(map(int, errs.groups())) if errs else 0)
    return rps, p99, failures


def watch_connections(base, stop, most):
    """Until stop is set: per application name, most connections open and active."""
    import psycopg2
    c = psycopg2.connect(base + "/postgres")
    c.autocommit = True
    cur = c.cursor()
    while not stop.is_set():
        cur.execute("SELECT application_name, COUNT(*), COUNT(*) FILTER (WHERE state <> 'idle') "
                    "FROM pg_stat_activity WHERE datname = 'bench' AND application_name "
                    "LIKE 'faxd-%%' GROUP BY 1")
        for name, n, active in cur.fetchall():
            o, a = most.get(name, (0, 0))
            most[name] = (max(o, n), max(a, active))
        time.sleep(0.1)
    c.close()


def send_runs(base, nodes, script):
    """(a) with (c): one node, two nodes, one node again."""
    results, most = {}, {}
    for label, ns in (("one", nodes[:1]), ("two", nodes), ("one again", nodes[:1])):
        stop = threading.Event()
        w = threading.Thread(target=watch_connections, args=(base, stop, most))
        w.start()
        out = [None] * len(ns)

        def run(i):
            out[i] = wrk(ns[i].port, CONNS // len(ns), script)
        ths = [threading.Thread(target=run, args=(i,)) for i in range(len(ns))]
        for t in ths:
            t.start()
        for t in ths:
            t.join()
        stop.set()
        w.join()
        results[label] = (sum(o[0] for o in out), max(o[1] for o in out), sum(o[2] for o in out))
        print("sends, %-9s: %7.1f req/s  p99 %6.1f ms  failed %d" % ((label,) + results[label]))
    return results, most


def main():
    for b in (FAXD, FAXCTL, CLAIM_BENCH):
        if not os.access(b, os.X_OK):
            die("missing %s (build the project first)" % b)
    if not shutil.which("wrk"):
        die("missing wrk")
    tmp = tempfile.mkdtemp(prefix="faxd-bench-cluster.")
    os.chmod(tmp, 0o755)
    pgdir = os.path.join(tmp, "pg")
    nodes = []
    try:
        if subprocess.run(["sh", PGCTL, "start", pgdir]).returncode:
            die("no PostgreSQL server (see tests/pg/pgctl.sh)")
        base = open(os.path.join(pgdir, "url")).read().strip()
        pg_admin(base, "CREATE DATABASE bench")
        pg_admin(base, "CREATE DATABASE claims")

        # (b) first, on a quiet server.
        claims_dir = os.path.join(tmp, "claims")
        os.mkdir(claims_dir)
        out = subprocess.run([CLAIM_BENCH, base + "/claims", claims_dir, str(BACKLOG), "200"],
                             capture_output=True, text=True, timeout=900)
        if out.returncode:
            die("claim_bench failed: " + out.stderr)
        runs = re.findall(r"backlog=(\d+) p50_us=(\d+) p99_us=(\d+)", out.stdout)
        for n, p50, p99 in runs:
            print("claim, %4s due:   p50 %7.2f ms  p99 %7.2f ms" % (n, int(p50) / 1000,
                                                                 int(p99) / 1000))
        ratio = re.search(r"ratio_p50=([\d.]+) ratio_p99=([\d.]+)", out.stdout)
        print("claim ratio %d due / 1 due: p50 %s  p99 %s" % ((BACKLOG,) + ratio.groups()))

        env = dict(os.environ, FAXD_STORE_DRIVER=base + "/bench", FAXD_STORE_POOL=str(POOL),
                   FAXD_HTTP_ADDRESS="127.0.0.1", FAXD_GENERAL_LOG_LEVEL="warn",
                   FAXD_LINE_LOOPBACK_SPEED="accelerated")
        env["FAXD_GENERAL_DATA_DIR"] = os.path.join(tmp, "ctl")
        os.mkdir(env["FAXD_GENERAL_DATA_DIR"])
        ctl = lambda *a: json.loads(subprocess.run([FAXCTL, "--json"] + list(a), env=env,
                                                   check=True, capture_output=True).stdout)
        uid = ctl("account", "create", "--type", "individual")["uid"]
        token = ctl("token", "create", "--account", uid)["token"]
        ctl("number", "add", "--account", uid, "--number", "+12025550100")
        nodes = [Node(tmp, "node1", env), Node(tmp, "node2", env)]

        body, ctype = multipart([("fax_file", "doc.pdf", "application/pdf",
                                  fixture_bytes("letter_a4.pdf"))])
        path = http_request(nodes[0].port, "POST", "/accounts/self/files", token=token,
                            body=body, headers={"Content-Type": ctype}).json()["path"]
        payload = json.dumps({"from": "+12025550100", "to": ["+15550000001"], "files": [path],
                              "options": {"retry": {"count": 0, "delay": 0}}})
        script = os.path.join(tmp, "post.lua")
        with open(script, "w") as f:
            f.write('wrk.method = "POST"\nwrk.body = %s\n'
                    'wrk.headers["Content-Type"] = "application/json"\n'
                    'wrk.headers["Authorization"] = "Bearer %s"\n' % (json.dumps(payload), token))

        results, most = send_runs(base, nodes, script)
        one = (results["one"][0] + results["one again"][0]) / 2
        one_p99 = (results["one"][1] + results["one again"][1]) / 2
        print("two nodes / one node: throughput %.2f  p99 %.2f" % (
            results["two"][0] / one, results["two"][1] / one_p99))
        for name, (n, active) in sorted(most.items()):
            print("connections %s: at most %d open, %d active (store.pool = %d)" % (
                name, n, active, POOL))
        failed = sum(r[2] for r in results.values())
        ok = failed == 0 and len(most) == 2 and all(n <= POOL for n, _ in most.values())
        print("PASS" if ok else "FAIL")
        return 0 if ok else 1
    finally:
        for n in nodes:
            n.stop()
        subprocess.run(["sh", PGCTL, "stop", pgdir])
        if os.environ.get("BENCH_KEEP") == "1":
            print("cluster: kept " + tmp, file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
