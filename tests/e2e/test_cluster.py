"""Two faxd nodes on one PostgreSQL database (issue 8, scale-out) behind kamailio with the
shipped contrib/kamailio/kamailio.cfg, and a third faxd as the outside world (its own
database): its trunk points at kamailio, the nodes' trunks point at it. Real-time G.711
calls, run concurrently; store.lease is 6 s so that a dead node's fax is taken over soon.

- 20 outbound faxes submitted through alternating nodes' APIs all end `success`, each
  dialled exactly once by one of the nodes (their call logs), and the outside world
  receives 20 faxes.
- 20 inbound faxes from the outside world are spread over both nodes by kamailio and all
  land in the one shared account's inbox, seen alike through both nodes' APIs.
- A node is killed (kill -9) during a call, after its first page was confirmed: the
  other node takes the fax over once the lease has run out, as the second attempt, and
  sends from the second page on (the outside world holds the first page as a partial
  fax and the second as a complete one: the sent pages); dials = attempts. kamailio
  then sends the next inbound calls to the survivor.
- The node restarts and rejoins: kamailio gives it calls again, and it dials again.

Needs PostgreSQL (the nodes share its database): CTest runs it as pg/e2e/test_cluster."""

import os
import re
import shutil
import tempfile
import time
import unittest

from faxd_harness import PG_BASE, call_log_lines, fixture_bytes, main
from sip_harness import (KAMAILIO, Kamailio, SipFaxd, free_udp_port, trunk_conf,
                         wait_fax, wait_inbox)
from test_fax_flow import tiff_pages

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("FAXD_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))
CFG = os.path.join(SOURCE_DIR, "contrib", "kamailio", "kamailio.cfg")
NUMBER = "+17005550001"      # the cluster's number, in the shared database
OUTSIDE = "+13035550100"     # the outside world's number
DOC = "letter_a4.pdf"        # 1 page
DOC2 = "fax_g3_fine.tif"     # 2 pages, sent as they are
LEASE = 6
N = 20


@unittest.skipUnless(PG_BASE, "the nodes share one PostgreSQL database: set FAXD_TEST_PG_DIR "
                              "(CTest runs this as pg/e2e/test_cluster)")
@unittest.skipUnless(os.path.exists(KAMAILIO) and os.geteuid() == 0,
                     "kamailio (run as root) is needed")
class ClusterTest(unittest.TestCase):
    maxDiff = None

    def assertJson(self, r, status=200, model=None):
        self.assertEqual(r.status, status, r)
        return r.json()

    # -- the cluster
    def setUp(self):
        self.kdir = tempfile.mkdtemp(prefix="faxd-cluster-")
        self.addCleanup(lambda: os.environ.get("FAXD_E2E_KEEP") or
                        shutil.rmtree(self.kdir, ignore_errors=True))
        kport, ports = free_udp_port(), [free_udp_port(), free_udp_port()]
        self.node_uris = ["sip:127.0.0.1:%d" % p for p in ports]
        ds_list = os.path.join(self.kdir, "dispatcher.list")
        with open(ds_list, "w") as f:
            f.write("".join("1 %s\n" % u for u in self.node_uris))
        self.outside = SipFaxd(
            [trunk_conf("kam", host="127.0.0.1", port=kport, prefixes="+1700", t38="off")],
            env={"FAXD_LINE_CHANNELS": "10", "FAXD_LINE_SANDBOX_PREFIX": "",
                 "FAXD_LINE_NO_MEDIA_TIMEOUT": "5"})
        self.addCleanup(self.outside.close)
        trunk = trunk_conf("out", host="127.0.0.1", port=self.outside.sip_port,
                           prefixes="+1303", t38="off")
        env = {"FAXD_LINE_CHANNELS": "5", "FAXD_LINE_SANDBOX_PREFIX": "",
               "FAXD_STORE_LEASE": str(LEASE), "FAXD_LINE_NO_MEDIA_TIMEOUT": "5"}
        self.nodes = []
        for p in ports:
            share = self.nodes[0] if self.nodes else None
            fx = SipFaxd([trunk], sip_port=p, env=env, start=False, share_store=share)
            fx.call_log = os.path.join(fx.root, "calls.log")
            fx.extra_env["FAXD_LINE_CALL_LOG"] = fx.call_log
            self.nodes.append(fx)
        # Cleanups run last first: node 2 stops before node 1 drops the shared database.
        for fx in self.nodes:
            self.addCleanup(fx.close)
            fx.start()
        self.kam = Kamailio(self, CFG, kport, kdir=self.kdir,
                            defines=["LISTEN=udp:127.0.0.1:%d" % kport,
                                     'DS_LIST="%s"' % ds_list, "DS_PING_INTERVAL=1"])
        self.addCleanup(self.kam.close)
        self.acct = self.nodes[0].new_account(number=NUMBER)  # one account for the cluster
        self.out_acct = self.outside.new_account(number=OUTSIDE)

    def diag(self):
        return "\n".join(["node %d:\n%s" % (i + 1, fx.stderr_tail(3000))
                          for i, fx in enumerate(self.nodes)] +
                         ["kamailio:\n" + self.kam.log()[-2000:]])

    def calls(self, fx, fax_id=None):
        """fx's call log lines (for one fax when fax_id is given)."""
        return call_log_lines(fx.call_log, fax_id)

    def received(self, fx):
        """How many faxes fx stored as received (its log), over all its runs."""
        return len(re.findall(r"queue fax received fax=", fx.stderr_text()))

    def attempts(self, fax_id):
        c = self.nodes[0].db()
        try:
            return c.execute("SELECT attempts FROM faxes WHERE id = ?", (fax_id,)).fetchone()[0]
        finally:
            c.close()

    def send(self, fx, to, name=DOC, retry=0):
        """One fax submitted through fx's API by the cluster's account (or, from the
        outside world, by its account); returns its id."""
        acct = self.out_acct if fx is self.outside else self.acct
        r = fx.upload(acct["token"], fixture_bytes(name), filename=name)
        path = self.assertJson(r, 200)["path"]
        payload = {"from": acct["number"], "to": [to], "files": [path], "return_ids": True,
                   "options": {"retry": {"count": retry, "delay": 0}}}
        r = fx.req("POST", "/accounts/self/outbox", token=acct["token"], body=payload)
        return self.assertJson(r, 201)["ids"][to]

    def wait_all(self, fx, tok, ids, status="success"):
        for fid in ids:
            rec = wait_fax(self, fx, tok, fid, timeout=400)
            self.assertEqual(rec["status"], status, (rec, self.diag()))

    def inbox(self, fx, tok):
        r = fx.req("GET", "/accounts/self/faxes", token=tok,
                   query={"category": "inbox", "limit": 100})
        return self.assertJson(r)["data"]["records"]

    # -- the scenario: one cluster through all four steps
    def test_cluster(self):
        self.outbound_exactly_once()
        self.inbound_spread()
        fax_id = self.node_killed_mid_call()
        self.node_rejoins(fax_id)

    def outbound_exactly_once(self):
        tok = self.acct["token"]
        ids = [self.send(self.nodes[i % 2], OUTSIDE) for i in range(N)]
        self.wait_all(self.nodes[0], tok, ids)
        for fid in ids:  # each fax's record reads the same through both nodes
            r = self.assertJson(self.nodes[1].req("GET", "/accounts/self/faxes/" + fid,
                                                  token=tok))
            self.assertEqual((r["status"], r["pages"]), ("success", 1), r)
            self.assertEqual(self.attempts(fid), 1)
        per_node = [self.calls(fx) for fx in self.nodes]
        self.assertTrue(all(per_node), "both nodes dial: %s" % per_node)
        dials = [l for lines in per_node for l in lines]
        self.assertEqual(len(dials), N, dials)
        for fid in ids:
            self.assertEqual(sum(len(self.calls(fx, fid)) for fx in self.nodes), 1, fid)
        recs = wait_inbox(self, self.outside, self.out_acct["token"], N, timeout=60)
        self.assertEqual(len(recs), N)
        self.assertTrue(all(r["status"] == "success" for r in recs), recs)

    def inbound_spread(self):
        before = [self.received(fx) for fx in self.nodes]
        ids = [self.send(self.outside, NUMBER) for _ in range(N)]
        self.wait_all(self.outside, self.out_acct["token"], ids)
        tok = self.acct["token"]
        wait_inbox(self, self.nodes[0], tok, N, timeout=60)
        for fx in self.nodes:  # one shared inbox, whichever node answered
            recs = self.inbox(fx, tok)
            self.assertEqual(len(recs), N, recs)
            self.assertTrue(all((r["status"], r["pages"]) == ("success", 1) for r in recs))
        got = [self.received(fx) - b for fx, b in zip(self.nodes, before)]
        self.assertEqual(sum(got), N, got)
        self.assertTrue(all(got), "kamailio spreads the calls over both nodes: %s" % got)

    def node_killed_mid_call(self):
        n1, n2 = self.nodes
        tok = self.acct["token"]
        out_before = {r["id"] for r in self.inbox(self.outside, self.out_acct["token"])}
        # Node 2 drains so that node 1 dials the fax; it undrains once node 1 is dead.
        n2.drain(True)
        fax_id = self.send(n2, OUTSIDE, name=DOC2, retry=1)
        c = n1.db()
        try:
            deadline = time.monotonic() + 240
            while True:
                row = c.execute("SELECT pages_done FROM outbox_dests WHERE fax_id = ?",
                                (fax_id,)).fetchone()
                if row and row[0] >= 1:
                    break
                self.assertLess(time.monotonic(), deadline, "no page confirmed\n" + self.diag())
                time.sleep(0.1)
        finally:
            c.close()
        n1.kill9()  # mid-call, after the first page's confirmation
        self.assertEqual(len(self.calls(n1, fax_id)), 1)
        n2.drain(False)
        rec = wait_fax(self, n2, tok, fax_id, timeout=300)
        self.assertEqual((rec["status"], rec["pages"]), ("success", 2), (rec, self.diag()))
        # Taken over as the second attempt, dialled once by each node: dials = attempts.
        self.assertEqual(self.attempts(fax_id), 2)
        taken = self.calls(n2, fax_id)
        self.assertEqual(len(taken), 1, taken)
        self.assertIn("attempt=2", taken[0])
        # The outside world: the first page from node 1's call (partial, cut by the kill)
        # and the second from node 2's, which resumed at the first unconfirmed page.
        deadline = time.monotonic() + 60
        while True:
            new = [r for r in self.inbox(self.outside, self.out_acct["token"])
                   if r["id"] not in out_before]
            if len(new) >= 2 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        got = sorted((r["status"], r["pages"], r["id"]) for r in new)
        self.assertEqual([g[:2] for g in got], [("partially_received", 1), ("success", 1)], got)
        sent = self.download(n2, tok, fax_id)
        first = self.download(self.outside, self.out_acct["token"], got[0][2])
        rest = self.download(self.outside, self.out_acct["token"], got[1][2])
        self.assertEqual(len(sent), 2)
        for (sw, sh, srows), (rw, rh, rrows) in zip(sent, first + rest):
            self.assertEqual(sw, rw)  # below spandsp's header line the pages are the sent ones
            self.assertEqual(rrows[rh - sh + 64:], srows[64:])
        # kamailio's probes find node 1 dead: the next calls go to the survivor.
        self.kam.wait_log(self, "faxd node %s is down" % self.node_uris[0])
        before = self.received(n2)
        ids = [self.send(self.outside, NUMBER) for _ in range(2)]
        self.wait_all(self.outside, self.out_acct["token"], ids)
        self.assertEqual(self.received(n2) - before, 2)
        return fax_id

    def node_rejoins(self, taken_over):
        n1, n2 = self.nodes
        tok = self.acct["token"]
        ups = self.kam.log().count("faxd node %s is up" % self.node_uris[0])
        n1.start()
        deadline = time.monotonic() + 30
        while self.kam.log().count("faxd node %s is up" % self.node_uris[0]) == ups:
            self.assertLess(time.monotonic(), deadline, "node 1 never came back\n" + self.diag())
            time.sleep(0.2)
        # Nothing is dialled again after the restart: the fax node 2 finished stays done.
        self.assertEqual(len(self.calls(n1, taken_over)), 1)
        # Inbound: round robin over both nodes again.
        before = self.received(n1)
        ids = [self.send(self.outside, NUMBER) for _ in range(2)]
        self.wait_all(self.outside, self.out_acct["token"], ids)
        self.assertEqual(self.received(n1) - before, 1, self.diag())
        # Outbound: with node 2 drained, node 1 dials.
        n2.drain(True)
        fid = self.send(n2, OUTSIDE)
        self.wait_all(n1, tok, [fid])
        n2.drain(False)
        self.assertEqual(len(self.calls(n1, fid)), 1)
        self.assertEqual(self.calls(n2, fid), [])
        self.assertEqual(len(self.inbox(n1, tok)), N + 4)

    def download(self, fx, tok, fax_id):
        r = fx.req("GET", "/accounts/self/files/" + fax_id, token=tok, query={"format": "tiff"})
        self.assertEqual(r.status, 200, r)
        return tiff_pages(r.body)


if __name__ == "__main__":
    main()
