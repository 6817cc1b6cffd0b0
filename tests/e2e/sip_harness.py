"""Helpers for the SIP end-to-end tests: faxd processes with SIP trunks pointing at each
other (or at baresip/kamailio), free UDP ports, and waiting for fax records.

Trunks are `[trunk NAME]` sections, which the environment cannot set, so each faxd gets
a small config file written into its temp dir."""

import os
import random
import socket
import time

from faxd_harness import Faxd, fixture_bytes

HERE = os.path.dirname(os.path.abspath(__file__))


def free_udp_port(step=1):
    """A port free for UDP and TCP (SIP binds both); `step` ports after it free too."""
    for _ in range(200):
        p = random.randrange(21000, 60000, 2)
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

    def __init__(self, trunks, sip_port=None, env=None, start=True, realtime=True):
        self.sip_port = sip_port or free_udp_port()
        self.rtp_min = free_udp_port(step=1)
        self.trunks_text = "".join(trunks)
        e = {
            "FAXD_SIP_PORT": str(self.sip_port),
            "FAXD_SIP_RTP_PORT_MIN": str(self.rtp_min),
            "FAXD_SIP_RTP_PORT_MAX": str(self.rtp_min + 400),
            "FAXD_LINE_LOOPBACK_SPEED": "realtime" if realtime else "accelerated",
            "FAXD_GENERAL_LOG_LEVEL": os.environ.get("FAXD_SIP_LOG", "info"),
        }
        e.update(env or {})
        super().__init__(env=e, start=False)
        self.conf_path = os.path.join(self.root, "faxd.conf")
        with open(self.conf_path, "w") as f:
            f.write(self.trunks_text)
        if start:
            self.start()

    def start(self, timeout=10.0):
        import subprocess
        from faxd_harness import FAXD_BIN
        assert self.proc is None or self.proc.poll() is not None
        self._stderr = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen([FAXD_BIN, "-c", self.conf_path], env=self.env(),
                                     stdin=subprocess.DEVNULL, stdout=self._stderr,
                                     stderr=self._stderr)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                self._close_stderr()
                raise AssertionError("faxd exited %s at start:\n%s" % (
                    self.proc.returncode, self.stderr_tail()))
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.proc.kill()
                self.proc.wait()
                self._close_stderr()
                raise AssertionError("faxd did not start:\n%s" % self.stderr_tail())
            time.sleep(0.05)

    def faxctl_raw(self, *args, timeout=60):
        import subprocess
        from faxd_harness import FAXCTL_BIN
        return subprocess.run([FAXCTL_BIN, "-c", self.conf_path, "--json"] +
                              [str(a) for a in args], env=self.env(), stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=timeout)


def send_doc(tc, fx, acct, to, name="report.pdf"):
    r = fx.upload(acct["token"], fixture_bytes(name), filename=name)
    path = tc.assertJson(r, 200, "FilePath")["path"]
    payload = {"from": acct["number"], "to": to if isinstance(to, list) else [to],
               "files": [path], "return_ids": True, "options": {"retry": {"count": 0}}}
    r = fx.req("POST", "/accounts/self/outbox", token=acct["token"], body=payload)
    return tc.assertJson(r, 201)["ids"]


def wait_fax(tc, fx, tok, fax_id, timeout=240):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = fx.req("GET", "/accounts/self/faxes/" + fax_id, token=tok)
        if r.status == 200:
            return tc.assertJson(r, 200, "Fax")
        time.sleep(0.5)
    tc.fail("no record for %s\n%s" % (fax_id, fx.stderr_tail(6000)))


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
