#!/usr/bin/python3
"""SIP benchmark: two faxd processes trunked to each other on 127.0.0.1; faxd A sends one
1-page fax to each of N numbers of faxd B, all at once, in real time, over G.711 or T.38.

usage: bench/sip_pair.py BUILD_DIR N g711|t38

Prints: how many calls succeeded, wall time, CPU seconds of both processes per call,
peak RSS of each process and its growth per call, and the SIP set-up rate (calls answered
per second from the first INVITE, read from A's log). Exit 0 when every call succeeded."""

import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)


def proc_cpu(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_hwm(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def main():
    if len(sys.argv) != 4 or sys.argv[3] not in ("g711", "t38"):
        print(__doc__)
        return 2
    build, n, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    os.environ["FAXD_BIN"] = os.path.join(build, "src", "faxd")
    os.environ["FAXCTL_BIN"] = os.path.join(build, "tools", "faxctl")
    os.environ["FAXD_TEST_DATA"] = os.path.join(SRC, "tests", "data")
    sys.path.insert(0, os.path.join(SRC, "tests", "e2e"))
    from faxd_harness import fixture_bytes  # noqa: E402
    from sip_harness import SipFaxd, free_udp_port, trunk_conf  # noqa: E402
    t38 = "only" if mode == "t38" else "off"
    pa, pb = free_udp_port(), free_udp_port()
    env = {"FAXD_LINE_CHANNELS": str(n), "FAXD_SIP_MEDIA_THREADS": "2",
           "FAXD_LINE_SANDBOX_PREFIX": ""}
    a = SipFaxd([trunk_conf("to-b", host="127.0.0.1", port=pb, t38=t38, channels=n + 10)],
                sip_port=pa, env=env, start=False)
    b = SipFaxd([trunk_conf("to-a", host="127.0.0.1", port=pa, t38=t38, channels=n + 10)],
                sip_port=pb, env=env, start=False)
    for fx in (a, b):  # two ports per call, and room for ports other programs hold
        fx.extra_env["FAXD_SIP_RTP_PORT_MAX"] = str(min(65535, fx.rtp_min + 4 * n + 200))
        fx.start()
    try:
        sender = a.new_account(number=True)
        recv = b.new_account()
        nums = ["+1303%07d" % (5550000 + i) for i in range(n)]
        for num in nums:
            b.faxctl("number", "add", "--account", recv["uid"], "--number", num)
        r = a.upload(sender["token"], fixture_bytes("letter_a4.pdf"), filename="letter_a4.pdf")
        path = r.json()["path"]
        base = {p.proc.pid: (proc_cpu(p.proc.pid), proc_hwm(p.proc.pid)) for p in (a, b)}
        t0 = time.monotonic()
        r = a.req("POST", "/accounts/self/outbox", token=sender["token"],
                  body={"from": sender["number"], "to": nums, "files": [path],
                        "return_ids": True, "options": {"retry": {"count": 0}}})
        ids = r.json()["ids"]
        done = {}
        while len(done) < n and time.monotonic() - t0 < 900:
            for num, fid in ids.items():
                if num in done:
                    continue
                rr = a.req("GET", "/accounts/self/faxes/" + fid, token=sender["token"])
                if rr.status == 200:
                    done[num] = rr.json()["status"]
            time.sleep(1)
        wall = time.monotonic() - t0
        ok = sum(1 for s in done.values() if s == "success")
        cpu = sum(proc_cpu(p.proc.pid) - base[p.proc.pid][0] for p in (a, b))
        log = a.stderr_text()
        stamps = [time.mktime(time.strptime(m[:19], "%Y-%m-%d %H:%M:%S")) + float("0" + m[19:23])
                  for m in re.findall(r"^(\S+ \S+) info line sip media to=", log, re.M)]
        first = re.search(r"^(\S+ \S+) info sip dialling", log, re.M)
        t_first = (time.mktime(time.strptime(first.group(1)[:19], "%Y-%m-%d %H:%M:%S")) +
                   float("0" + first.group(1)[19:23])) if first else 0
        setup = len(stamps) / max(0.001, max(stamps) - t_first) if stamps and first else 0
        print("mode=%s calls=%d success=%d wall=%.1fs" % (mode, n, ok, wall))
        print("cpu both processes: %.2f s total, %.3f s per call (a call = 2 fax endpoints)"
              % (cpu, cpu / n))
        for name, p in (("A (sends)", a), ("B (receives)", b)):
            hwm = proc_hwm(p.proc.pid)
            print("peak RSS %s: %.1f MiB (%.2f MiB per call over the idle %.1f MiB)" % (
                name, hwm, (hwm - base[p.proc.pid][1]) / n, base[p.proc.pid][1]))
        print("SIP set-up: %d calls answered %.1f calls/s from the first INVITE" % (
            len(stamps), setup))
        statuses = {}
        for s in done.values():
            statuses[s] = statuses.get(s, 0) + 1
        print("statuses:", statuses)
        return 0 if ok == n else 1
    finally:
        a.close()
        b.close()


if __name__ == "__main__":
    sys.exit(main())
