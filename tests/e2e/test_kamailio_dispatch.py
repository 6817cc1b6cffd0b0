"""contrib/kamailio/kamailio.cfg in front of two faxd nodes: the shipped configuration
passes `kamailio -c`; faxes sent by a third faxd through kamailio land on the nodes
(round robin over the nodes its OPTIONS probes find alive), and once node 1 is drained
(SIGUSR1: it answers INVITEs with 503) the next faxes fail over to node 2. Real-time
G.711 calls of one page, run concurrently."""

import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from faxd_harness import main
from sip_harness import SipFaxd, free_udp_port, send_doc, trunk_conf, wait_fax, wait_inbox

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("FAXD_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))
CFG = os.path.join(SOURCE_DIR, "contrib", "kamailio", "kamailio.cfg")
DS_EXAMPLE = os.path.join(SOURCE_DIR, "contrib", "kamailio", "dispatcher.list")
KAMAILIO = "/usr/sbin/kamailio"
NUMBER = "+17005550001"
DOC = "letter_a4.pdf"


def defines(port, ds_list):
    return ["-A", "LISTEN=udp:127.0.0.1:%d" % port, "-A", 'DS_LIST="%s"' % ds_list,
            "-A", "DS_PING_INTERVAL=1"]


@unittest.skipUnless(os.path.exists(KAMAILIO), "kamailio is needed")
class KamailioConfigTest(unittest.TestCase):
    def test_shipped_config_passes_kamailio_check(self):
        for extra in ([], defines(free_udp_port(), DS_EXAMPLE)):
            with self.subTest(extra=extra):
                r = subprocess.run([KAMAILIO, "-c", "-f", CFG] + extra, capture_output=True,
                                   cwd=tempfile.gettempdir(), timeout=60)
                out = (r.stdout + r.stderr).decode("utf-8", "replace")
                self.assertEqual(r.returncode, 0, out[-3000:])
                self.assertIn("config file ok", out.lower())
        # The check is real: a broken copy is refused.
        with tempfile.TemporaryDirectory() as d:
            bad = os.path.join(d, "bad.cfg")
            with open(CFG) as f, open(bad, "w") as g:
                g.write(f.read().replace("ds_next_dst()", "ds_next_dst("))
            r = subprocess.run([KAMAILIO, "-c", "-f", bad], capture_output=True, cwd=d,
                               timeout=60)
            self.assertNotEqual(r.returncode, 0)


@unittest.skipUnless(os.path.exists(KAMAILIO) and os.geteuid() == 0,
                     "kamailio (run as root) is needed")
class KamailioDispatchTest(unittest.TestCase):
    def assertJson(self, r, status=200, model=None):
        self.assertEqual(r.status, status, r)
        return r.json()

    def start_kamailio(self, node_ports):
        self.kdir = tempfile.mkdtemp(prefix="faxd-kamailio-")
        self.kport = free_udp_port()
        ds = os.path.join(self.kdir, "dispatcher.list")
        with open(ds, "w") as f:
            for p in node_ports:
                f.write("1 sip:127.0.0.1:%d\n" % p)
        self.klog_path = os.path.join(self.kdir, "kamailio.log")
        self.klog = open(self.klog_path, "wb")
        self.kam = subprocess.Popen(
            [KAMAILIO, "-f", CFG, "-DD", "-E", "-Y", self.kdir,
             "-P", os.path.join(self.kdir, "kamailio.pid"), "-m", "32", "-M", "8"]
            + defines(self.kport, ds),
            stdout=self.klog, stderr=self.klog, stdin=subprocess.DEVNULL, cwd=self.kdir)
        time.sleep(1.0)
        self.assertIsNone(self.kam.poll(), "kamailio exited:\n" + self.klog_text())

    def klog_text(self):
        with open(self.klog_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop_kamailio(self):
        if self.kam.poll() is None:
            self.kam.terminate()
            try:
                self.kam.wait(10)
            except subprocess.TimeoutExpired:
                self.kam.kill()
                self.kam.wait()
        self.klog.close()
        if not os.environ.get("FAXD_E2E_KEEP"):
            shutil.rmtree(self.kdir, ignore_errors=True)

    def inbox_counts(self, nodes, accts):
        counts = []
        for fx, acct in zip(nodes, accts):
            r = fx.req("GET", "/accounts/self/faxes", token=acct["token"],
                       query={"category": "inbox"})
            recs = self.assertJson(r)["data"]["records"]
            self.assertTrue(all(x["status"] == "success" for x in recs), recs)
            counts.append(len(recs))
        return counts

    def send_round(self, sender, acct, n):
        ids = [send_doc(self, sender, acct, NUMBER, name=DOC)[NUMBER] for _ in range(n)]
        for fid in ids:
            rec = wait_fax(self, sender, acct["token"], fid, timeout=240)
            self.assertEqual(rec["status"], "success",
                             sender.stderr_tail(4000) + self.klog_text()[-4000:])

    def test_dispatch_and_drain_failover(self):
        node_ports = [free_udp_port(), free_udp_port()]
        self.start_kamailio(node_ports)
        fxs = []
        try:
            kam = dict(host="127.0.0.1", port=self.kport, t38="off")
            env = {"FAXD_LINE_CHANNELS": "8", "FAXD_LINE_SANDBOX_PREFIX": ""}
            nodes = [SipFaxd([trunk_conf("kam", **kam)], sip_port=p, env=env)
                     for p in node_ports]
            fxs.extend(nodes)
            sender_fx = SipFaxd([trunk_conf("kam", prefixes="+1700", **kam)], env=env)
            fxs.append(sender_fx)
            accts = [fx.new_account(number=NUMBER) for fx in nodes]
            sender = sender_fx.new_account(number=True)

            # Both nodes answer their probes: two calls, one on each (round robin).
            self.send_round(sender_fx, sender, 2)
            for fx, acct in zip(nodes, accts):
                wait_inbox(self, fx, acct["token"], 1)
            self.assertEqual(self.inbox_counts(nodes, accts), [1, 1])

            # Node 1 drains: still alive (answers probes and /healthz), not ready, and it
            # refuses INVITEs with 503, so kamailio sends the next calls to node 2.
            os.kill(nodes[0].proc.pid, signal.SIGUSR1)
            deadline = time.monotonic() + 10
            while nodes[0].req("GET", "/readyz", prefix="").status != 503:
                self.assertLess(time.monotonic(), deadline, "node 1 never became unready")
                time.sleep(0.1)
            self.send_round(sender_fx, sender, 2)
            wait_inbox(self, nodes[1], accts[1]["token"], 3)
            self.assertEqual(self.inbox_counts(nodes, accts), [1, 3])
            self.assertIn("faxd node failed (503)", self.klog_text())
        finally:
            for fx in fxs:
                fx.close()
            self.stop_kamailio()


if __name__ == "__main__":
    main()
