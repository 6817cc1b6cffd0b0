"""Helpers for the SIP end-to-end tests: faxd processes with SIP trunks pointing at each
other (or at baresip/kamailio), free UDP ports, and waiting for fax records.

Trunks are `[trunk NAME]` sections, which the environment cannot set, so each faxd gets
a small config file written into its temp dir."""

import os
import random
import socket
import time

from faxd_harness import Faxd, fixture_bytes
from faxd_harness import wait_fax as harness_wait_fax

HERE = os.path.dirname(os.path.abspath(__file__))


# Ports come from two regions below the kernel's ephemeral range (32768 and up, where
# HTTP test ports come from): SIP (and other signalling) ports from the first, media port
# ranges from the second. A media range of one faxd then never covers another's SIP port:
# media binds its ports only when a call starts, after the other faxd checked its port.
SIGNAL_PORTS = (21000, 26900)
MEDIA_PORTS = (27000, 32300)


def free_udp_port(step=1, region=SIGNAL_PORTS):
    """A port free for UDP and TCP (SIP binds both); `step` ports after it free too."""
    for _ in range(200):
        p = random.randrange(region[0], region[1], 2)
        ok = True
        socks = []
        try:
            for q in range(p, p + step):
                for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                    s = socket.socket(socket.AF_INET, kind)
                    socks.append(s)
                    s.bind(("127.0.0.1", q))
        except OSError:
            ok = False
        finally:
            for s in socks:
                s.close()
        if ok:
            return p
    raise AssertionError("no free UDP port")


def trunk_conf(name, **kv):
    lines = ["[trunk %s]" % name]
    for k, v in kv.items():
        lines.append('%s = "%s"' % (k, v) if isinstance(v, str) else "%s = %s" % (k, v))
    return "\n".join(lines) + "\n"


class SipFaxd(Faxd):
    """A faxd with SIP on sip_port, media ports of its own and the given trunks."""

    def __init__(self, trunks, sip_port=None, env=None, start=True, share_store=None):
        self.sip_port = sip_port or free_udp_port()
        self.rtp_min = free_udp_port(step=1, region=MEDIA_PORTS)
        self.trunks_text = "".join(trunks)
        e = {
            "FAXD_SIP_PORT": str(self.sip_port),
            "FAXD_SIP_RTP_PORT_MIN": str(self.rtp_min),
            "FAXD_SIP_RTP_PORT_MAX": str(self.rtp_min + 400),
            "FAXD_GENERAL_LOG_LEVEL": os.environ.get("FAXD_SIP_LOG", "info"),
        }
        e.update(env or {})
        super().__init__(env=e, start=False, share_store=share_store)
        self.conf_path = os.path.join(self.root, "faxd.conf")
        with open(self.conf_path, "w") as f:
            f.write(self.trunks_text)
        self.args = ["-c", self.conf_path]
        if start:
            self.start()


def send_doc(tc, fx, acct, to, name="report.pdf"):
    r = fx.upload(acct["token"], fixture_bytes(name), filename=name)
    path = tc.assertJson(r, 200, "FilePath")["path"]
    payload = {"from": acct["number"], "to": to if isinstance(to, list) else [to],
               "files": [path], "return_ids": True, "options": {"retry": {"count": 0}}}
    r = fx.req("POST", "/accounts/self/outbox", token=acct["token"], body=payload)
    return tc.assertJson(r, 201)["ids"]


def wait_fax(tc, fx, tok, fax_id, timeout=240):
    return harness_wait_fax(tc, fx, tok, fax_id, timeout, poll=0.5)


def trunk_states(fx, ready, timeout=10):
    """`faxctl trunk list` by trunk name once ready(trunks) holds, or when timeout
    passes (the caller asserts). The SIP thread rewrites the trunk state file on its
    100 ms tick, which may come after a fax record that the change caused is final."""
    deadline = time.monotonic() + timeout
    while True:
        trunks = {t["name"]: t for t in fx.faxctl("trunk", "list")["trunks"]}
        if ready(trunks) or time.monotonic() > deadline:
            return trunks
        time.sleep(0.1)


def wait_inbox(tc, fx, tok, count, timeout=120):
    deadline = time.monotonic() + timeout
    recs = []
    while time.monotonic() < deadline:
        r = fx.req("GET", "/accounts/self/faxes", token=tok, query={"category": "inbox"})
        recs = tc.assertJson(r, 200, "FaxList")["data"]["records"]
        if len(recs) >= count:
            return recs
        time.sleep(0.5)
    tc.fail("inbox has %d records, expected %d\n%s" % (len(recs), count, fx.stderr_tail(6000)))


def inbox_counts(tc, pairs, total, timeout=60):
    """Inbox sizes of each (faxd, account) in pairs once they add up to total. A
    receiver files its fax when the call has ended, a moment after the sender already
    reports success, so the counts are polled; every record must be a success."""
    deadline = time.monotonic() + timeout
    while True:
        counts = []
        for fx, acct in pairs:
            r = fx.req("GET", "/accounts/self/faxes", token=acct["token"],
                       query={"category": "inbox"})
            recs = tc.assertJson(r, 200, "FaxList")["data"]["records"]
            tc.assertTrue(all(x["status"] == "success" for x in recs), recs)
            counts.append(len(recs))
        if sum(counts) >= total or time.monotonic() >= deadline:
            return counts
        time.sleep(0.5)


# --------------------------------------------------------------------------------------
# baresip as a third-party far end (SIP.md): headless, one account, scripted by config.

BARESIP = "/usr/bin/baresip"


def write_wav(path, secs, tone_hz=None, tone_secs=0.0):
    """8 kHz mono S16LE: a warbling 'voice' (no fax tones), or tone_hz for tone_secs
    then silence (2100 Hz = a fax answer tone, CED)."""
    import math
    import struct
    import wave
    with wave.open(path, "wb") as o:
        o.setnchannels(1)
        o.setsampwidth(2)
        o.setframerate(8000)
        frames = bytearray()
        for i in range(int(secs * 8000)):
            if tone_hz:
                v = int(8000 * math.sin(2 * math.pi * tone_hz * i / 8000)) if i < tone_secs * 8000 else 0
            else:
                v = int(3000 * math.sin(2 * math.pi * (300 + 200 * math.sin(i / 4000)) * i / 8000))
            frames += struct.pack("<h", v)
        o.writeframes(bytes(frames))


class Baresip:
    """One baresip process. user: the account's user part (an E.164 number);
    answer: "auto" or "manual"; local_timeout: seconds a manual call rings before
    baresip answers 486 (busy) — large = never; wav: what it plays once answered
    (it hangs up when the file ends); dial: a SIP URI to call at start; params: more
    account parameters (";auth_user=…;auth_pass=…": digest credentials)."""

    def __init__(self, root, user, answer="auto", local_timeout=3600, wav=None, dial=None,
                 run_secs=120, params=""):
        import subprocess
        self.dir = os.path.join(root, "baresip-%s" % user.strip("+"))
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_udp_port(step=3)  # SIP UDP+TCP on port, TLS on port+1
        ctrl = free_udp_port()
        media = free_udp_port(region=MEDIA_PORTS)
        with open(os.path.join(self.dir, "config"), "w") as f:
            f.write("\n".join([
                "sip_listen 127.0.0.1:%d" % self.port,
                "net_interface 127.0.0.1",
                "module_path /usr/lib/baresip/modules",
                "module g711.so", "module aufile.so", "module aubridge.so",
                "module_app account.so", "module_app menu.so", "module_app ctrl_tcp.so",
                "audio_source aufile,%s" % wav if wav else "audio_source aubridge,nil",
                "audio_player aubridge,nil",
                "ctrl_tcp_listen 127.0.0.1:%d" % ctrl,
                "call_local_timeout %d" % local_timeout,
                "rtp_ports %d-%d" % (media, media + 50),
            ]) + "\n")
        with open(os.path.join(self.dir, "accounts"), "w") as f:
            f.write("<sip:%s@127.0.0.1:%d>%s;regint=0;answermode=%s;audio_codecs=pcmu,pcma;"
                    "ptime=20\n" % (user, self.port, params, answer))
        open(os.path.join(self.dir, "contacts"), "w").close()
        self.log_path = os.path.join(self.dir, "baresip.log")
        self._log = open(self.log_path, "wb")
        args = [BARESIP, "-f", self.dir, "-t", str(run_secs)]
        if dial:
            args += ["-e", "/dial %s" % dial]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=self._log)
        time.sleep(0.5)

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except Exception:  # noqa: BLE001
                self.proc.kill()
                self.proc.wait()
        self._log.close()


# --------------------------------------------------------------------------------------
# kamailio: a SIP proxy in front of or behind faxd.

KAMAILIO = "/usr/sbin/kamailio"


class Kamailio:
    """One kamailio in the foreground (-DD) with its log in its own directory. It forks
    worker processes, so it runs in a session of its own and close() stops the whole
    process group. cfg: a config file; defines: `-A NAME=value` pairs."""

    def __init__(self, tc, cfg, port, defines=(), kdir=None):
        import subprocess
        import tempfile
        self.dir = kdir or tempfile.mkdtemp(prefix="faxd-kamailio-")
        self.port = port
        self.log_path = os.path.join(self.dir, "kamailio-%d.log" % port)
        self._log = open(self.log_path, "ab")
        args = [KAMAILIO, "-f", cfg, "-DD", "-E", "-Y", self.dir,
                "-P", os.path.join(self.dir, "kamailio.pid"), "-m", "32", "-M", "8"]
        for d in defines:
            args += ["-A", d]
        self.proc = subprocess.Popen(args, stdout=self._log, stderr=self._log,
                                     stdin=subprocess.DEVNULL, cwd=self.dir,
                                     start_new_session=True)
        time.sleep(1.0)
        tc.assertIsNone(self.proc.poll(), "kamailio exited:\n" + self.log())

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_log(self, tc, text, timeout=30):
        deadline = time.monotonic() + timeout
        while text not in self.log():
            tc.assertLess(time.monotonic(), deadline,
                          "kamailio never logged %r:\n%s" % (text, self.log()[-3000:]))
            time.sleep(0.1)

    def close(self):
        import signal
        import subprocess
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
        try:  # workers left behind by a main process that died first
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        self._log.close()


# --------------------------------------------------------------------------------------
# tshark: an independent decoder of what faxd puts on the wire (SIP.md).

TSHARK = "/usr/bin/tshark"


class Capture:
    """Captures on lo into a pcapng file: SIP on the given ports, and UDP media sent
    from a port of the given ranges to a port of the ranges."""

    def __init__(self, root, ports=(), ranges=()):
        import subprocess
        self.path = os.path.join(root, "capture.pcapng")
        sip = " or ".join("port %d" % p for p in ports)
        src = " or ".join("src portrange %d-%d" % r for r in ranges)
        dst = " or ".join("dst portrange %d-%d" % r for r in ranges)
        # SIP on its ports (UDP or TCP); media only between two ports of the ranges, so
        # other programs' packets that merely reach a port in a range are left out.
        filt = "((udp or tcp) and (%s))" % sip
        if ranges:
            filt += " or (udp and (%s) and (%s))" % (src, dst)
        self.err_path = os.path.join(root, "tshark.stderr")
        self._err = open(self.err_path, "wb")
        self.proc = subprocess.Popen([TSHARK, "-i", "lo", "-f", filt, "-w", self.path, "-q"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=self._err)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with open(self.err_path, "rb") as f:
                if b"Capturing on" in f.read():
                    break
            time.sleep(0.1)
        time.sleep(0.5)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(15)
        self._err.close()

    def count(self, display_filter):
        """How many captured packets match a display filter."""
        import subprocess
        r = subprocess.run([TSHARK, "-r", self.path, "-Y", display_filter, "-T", "fields",
                            "-e", "frame.number"], capture_output=True, timeout=120)
        if r.returncode != 0:
            raise AssertionError("tshark -Y %r: %s" % (display_filter, r.stderr.decode()))
        return len(r.stdout.split())

    def text(self, display_filter):
        import subprocess
        r = subprocess.run([TSHARK, "-r", self.path, "-Y", display_filter],
                           capture_output=True, timeout=120)
        return r.stdout.decode("utf-8", "replace")
