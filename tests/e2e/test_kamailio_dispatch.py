"""contrib/kamailio/kamailio.cfg in front of two faxd nodes: the shipped configuration
passes `kamailio -c`; faxes sent by a third faxd through kamailio land on the nodes
(round robin over the nodes its OPTIONS probes find alive). Once node 1 is drained
(SIGUSR1: it answers probes and INVITEs with 503) the probes take it out of the
rotation, and undrained (SIGUSR2) it comes back; with the probes off, a call offered
to the drained node fails over to node 2 on its 503. Real-time G.711 calls of one
page, run concurrently."""

import os
import shutil
import subprocess
import tempfile
import unittest

from faxd_harness import main
from sip_harness import (KAMAILIO, Kamailio, SipFaxd, free_udp_port, send_doc, trunk_conf,
                         wait_fax, wait_inbox)

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("FAXD_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))
CFG = os.path.join(SOURCE_DIR, "contrib", "kamailio", "kamailio.cfg")
DS_EXAMPLE = os.path.join(SOURCE_DIR, "contrib", "kamailio", "dispatcher.list")
NUMBER = "+17005550001"
DOC = "letter_a4.pdf"


def defines(port, ds_list, ping_interval=1):
    return ["LISTEN=udp:127.0.0.1:%d" % port, 'DS_LIST="%s"' % ds_list,
            "DS_PING_INTERVAL=%d" % ping_interval]


@unittest.skipUnless(os.path.exists(KAMAILIO), "kamailio is needed")
class KamailioConfigTest(unittest.TestCase):
    def test_shipped_config_passes_kamailio_check(self):
        for extra in ([], defines(free_udp_port(), DS_EXAMPLE)):
            with self.subTest(extra=extra):
                args = [a for d in extra for a in ("-A", d)]
                r = subprocess.run([KAMAILIO, "-c", "-f", CFG] + args, capture_output=True,
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

    def start_kamailio(self, ping_interval):
        """The shipped config on self.kport; ping_interval 0 turns the probes off."""
        return Kamailio(self, CFG, self.kport, kdir=self.kdir,
                        defines=defines(self.kport, self.ds_list, ping_interval))

    def inbox_counts(self, nodes, accts):
        counts = []
        for fx, acct in zip(nodes, accts):
            r = fx.req("GET", "/accounts/self/faxes", token=acct["token"],
                       query={"category": "inbox"})
            recs = self.assertJson(r)["data"]["records"]
            self.assertTrue(all(x["status"] == "success" for x in recs), recs)
            counts.append(len(recs))
        return counts

    def send_round(self, sender, acct, n, kam):
        ids = [send_doc(self, sender, acct, NUMBER, name=DOC)[NUMBER] for _ in range(n)]
        for fid in ids:
            rec = wait_fax(self, sender, acct["token"], fid, timeout=240)
            self.assertEqual(rec["status"], "success",
                             sender.stderr_tail(4000) + kam.log()[-4000:])

    def test_dispatch_probes_and_failover(self):
        node_ports = [free_udp_port(), free_udp_port()]
        self.kdir = tempfile.mkdtemp(prefix="faxd-kamailio-")
        self.kport = free_udp_port()
        self.ds_list = os.path.join(self.kdir, "dispatcher.list")
        with open(self.ds_list, "w") as f:
            for p in node_ports:
                f.write("1 sip:127.0.0.1:%d\n" % p)
        node1 = "sip:127.0.0.1:%d" % node_ports[0]
        kam = self.start_kamailio(1)
        fxs = []
        try:
            trunk = dict(host="127.0.0.1", port=self.kport, t38="off")
            env = {"FAXD_LINE_CHANNELS": "8", "FAXD_LINE_SANDBOX_PREFIX": ""}
            nodes = [SipFaxd([trunk_conf("kam", **trunk)], sip_port=p, env=env)
                     for p in node_ports]
            fxs.extend(nodes)
            sender_fx = SipFaxd([trunk_conf("kam", prefixes="+1700", **trunk)], env=env)
            fxs.append(sender_fx)
            accts = [fx.new_account(number=NUMBER) for fx in nodes]
            sender = sender_fx.new_account(number=True)

            # Both nodes answer their probes: two calls, one on each (round robin).
            self.send_round(sender_fx, sender, 2, kam)
            for fx, acct in zip(nodes, accts):
                wait_inbox(self, fx, acct["token"], 1)
            self.assertEqual(self.inbox_counts(nodes, accts), [1, 1])

            # Node 1 drains: still alive (/healthz), not ready, and it answers probes and
            # INVITEs with 503. The probes take it out of the rotation: the next calls go
            # to node 2 without trying node 1.
            nodes[0].drain(True)
            kam.wait_log(self, "faxd node %s is down" % node1)
            self.send_round(sender_fx, sender, 2, kam)
            wait_inbox(self, nodes[1], accts[1]["token"], 3)
            self.assertEqual(self.inbox_counts(nodes, accts), [1, 3])
            self.assertNotIn("faxd node failed", kam.log())

            # Undrained, node 1 answers its probes again and is back in the rotation.
            nodes[0].drain(False)
            kam.wait_log(self, "faxd node %s is up" % node1)

            # Without probes kamailio learns of the drain only from the INVITE's 503:
            # the call fails over to node 2 (failure_route).
            kam.close()
            kam = self.start_kamailio(0)
            nodes[0].drain(True)
            self.send_round(sender_fx, sender, 2, kam)
            wait_inbox(self, nodes[1], accts[1]["token"], 5)
            self.assertEqual(self.inbox_counts(nodes, accts), [1, 5])
            self.assertIn("faxd node failed (503), trying sip:127.0.0.1:%d" % node_ports[1],
                          kam.log())
        finally:
            for fx in fxs:
                fx.close()
            kam.close()
            if not os.environ.get("FAXD_E2E_KEEP"):
                shutil.rmtree(self.kdir, ignore_errors=True)


if __name__ == "__main__":
    main()
