"""Inbound pages survive the receiving node (issue 8, scale-out point 4): each page an
inbound call completes is written to the store at once, under a lease the receiving
node renews; when that node dies, its complete pages become a `partially_received`
fax under the id chosen when the call began.

faxd A sends a 3-page fax over SIP to faxd B1, which is killed with SIGKILL right after
it stored the first page (crash point page_stored), while the second comes in.

- PostgreSQL: B1 is not started again. Two other nodes, B2 and B3, share B1's database
  (nothing else: no disk, no SIP) and race for the call once its lease (3 s here)
  expired; exactly one fax record appears, with the call's id, one page whose image is
  A's first page, downloadable as TIFF and PDF, and one fax_received webhook.
- SQLite (one node): what B1 left on its disk for fx_lines_recover is removed, and B1 is
  started again: the store's copy of the page alone makes the same record.

A call that ends normally leaves nothing in progress: no row, no page blob."""

import glob
import json
import os
import time
import unittest

from faxd_harness import PG_BASE, Faxd, fixture_bytes, main, wait_fax as harness_wait_fax
from sip_harness import SipFaxd, free_udp_port, trunk_conf, wait_fax, wait_inbox
from test_fax_flow import HEADER_ROWS, tiff_pages
from test_webhooks import Receiver

DOC = "mixed_orientation.pdf"
LEASE = {"FAXD_STORE_LEASE": "6", "FAXD_WEBHOOK_ALLOW_PRIVATE": "on"}


class RxTakeoverTest(unittest.TestCase):
    maxDiff = None

    def assertJson(self, r, status=200, model=None):
        self.assertEqual(r.status, status, r)
        return r.json()

    def download(self, fx, tok, fax_id, fmt="tiff"):
        r = fx.req("GET", "/accounts/self/files/" + fax_id, token=tok, query={"format": fmt})
        self.assertEqual(r.status, 200, r)
        return r.body

    def test_pages_of_a_dead_node_become_a_fax(self):
        pa, pb = free_udp_port(), free_udp_port()
        common = {"FAXD_LINE_NO_MEDIA_TIMEOUT": "5"}
        a = SipFaxd([trunk_conf("to-b", host="127.0.0.1", port=pb, prefixes="+1303")],
                    sip_port=pa, env=common, start=False)
        b1 = SipFaxd([trunk_conf("to-a", host="127.0.0.1", port=pa, prefixes="+1202")],
                     sip_port=pb, env=dict(common, FAXD_TEST_CRASH_AT="page_stored:1", **LEASE),
                     start=False)
        b1.extra_env["FAXD_STORE_NODE"] = "b1"
        self.addCleanup(b1.close)  # last: it owns the database the other nodes share
        self.addCleanup(a.close)
        a.start()
        b1.start()
        a_acct = a.new_account(number=True)
        b_acct = b1.new_account(number="+13035550100")  # served by A's trunk
        rx = Receiver()
        self.addCleanup(rx.close)
        r = b1.req("POST", "/hooks", token=b_acct["token"],
                   body={"target": rx.url("/in"), "event": "fax_received"})
        self.assertEqual(r.status, 200, r)

        r = a.upload(a_acct["token"], fixture_bytes(DOC), filename=DOC)
        path = self.assertJson(r)["path"]
        to = b_acct["number"]
        r = a.req("POST", "/accounts/self/outbox", token=a_acct["token"],
                  body={"from": a_acct["number"], "to": [to], "files": [path],
                        "return_ids": True, "options": {"retry": {"count": 0}}})
        sent_id = self.assertJson(r, 201)["ids"][to]

        try:
            b1.proc.wait(240)
        except Exception:  # noqa: BLE001
            self.fail("B1 did not reach page_stored\n" + b1.stderr_tail())
        self.assertEqual(b1.proc.returncode, -9, b1.stderr_tail())
        self.assertIn("crash point page_stored reached", b1.stderr_text())
        b1.kill9()
        # The call's id, chosen when it was answered, names what it left on B1's disk.
        metas = glob.glob(os.path.join(b1.data_dir, "tmp", "line", "rx-*.meta"))
        self.assertEqual(len(metas), 1, metas)
        call_id = os.path.basename(metas[0])[3:-5]

        if PG_BASE:
            # Other nodes of the cluster; B1 stays dead (nothing to stop at cleanup).
            b1.proc = None
            others = [Faxd(share_store=b1, node=n, env=LEASE) for n in ("b2", "b3")]
            for o in others:
                self.addCleanup(o.close)
            node = others[0]
        else:
            # One node: only the store's copy of the page is left to recover from.
            for f in glob.glob(os.path.join(b1.data_dir, "tmp", "line", "rx-*")):
                os.unlink(f)
            del b1.extra_env["FAXD_TEST_CRASH_AT"]
            b1.start()
            node = b1

        tok = b_acct["token"]
        recs = wait_inbox(self, node, tok, 1, timeout=60)
        self.assertEqual([(f["id"], f["pages"], f["status"]) for f in recs],
                         [(call_id, 1, "partially_received")], recs)
        self.assertIn("faxd stopped during the call", recs[0]["description"])
        self.assertEqual((recs[0]["from"], recs[0]["to"]), (a_acct["number"], to))

        # The stored page is A's first page (below the header spandsp draws).
        fax = wait_fax(self, a, a_acct["token"], sent_id, timeout=120)
        self.assertNotEqual(fax["status"], "success", fax)
        sent = tiff_pages(self.download(a, a_acct["token"], sent_id))
        got = tiff_pages(self.download(node, tok, call_id))
        self.assertEqual(len(got), 1)
        (sw, sh, srows), (rw, rh, rrows) = sent[0], got[0]
        self.assertEqual(sw, rw)
        self.assertGreaterEqual(rh, sh)
        self.assertEqual(rrows[rh - sh + HEADER_ROWS:], srows[HEADER_ROWS:])
        self.assertTrue(self.download(node, tok, call_id, "pdf").startswith(b"%PDF"))

        # Stored once, announced once, and nothing of the call left in progress.
        hooks = rx.wait("/in", 1, timeout=60)
        time.sleep(4)  # more than a lease: a second takeover would have happened by now
        self.assertEqual(len(wait_inbox(self, node, tok, 1)), 1)
        hooks = rx.got("/in")
        self.assertEqual(len(hooks), 1, hooks)
        body = json.loads(hooks[0]["body"])
        self.assertEqual(body["hook"]["id"], call_id)
        self.assertEqual(body["data"]["status"], "partially_received")
        c = node.db()
        try:
            for table in ("rx_calls", "rx_pages"):
                self.assertEqual(c.execute("SELECT COUNT(*) FROM %s" % table).fetchone()[0], 0)
            self.assertEqual(c.execute("SELECT COUNT(*) FROM faxes WHERE id = ?",
                                       (call_id,)).fetchone()[0], 1)
        finally:
            c.close()
        if PG_BASE:
            takers = [o for o in others if "taking over an interrupted inbound fax fax=%s"
                      % call_id in o.stderr_text()]
            self.assertEqual(len(takers), 1, [o.stderr_tail() for o in others])

    def test_a_finished_call_leaves_nothing_in_progress(self):
        fx = Faxd(env={"FAXD_GENERAL_LOG_LEVEL": "debug"})
        self.addCleanup(fx.close)
        acct = fx.new_account(number=True)
        tok = acct["token"]
        r = fx.upload(tok, fixture_bytes("report.pdf"), filename="report.pdf")
        path = self.assertJson(r)["path"]
        to = acct["number"]  # our own number: the loopback line receives it
        r = fx.req("POST", "/accounts/self/outbox", token=tok,
                   body={"from": to, "to": [to], "files": [path], "return_ids": True})
        sent_id = self.assertJson(r, 201)["ids"][to]
        self.assertEqual(harness_wait_fax(self, fx, tok, sent_id, 300)["status"], "success")
        recs = wait_inbox(self, fx, tok, 1, timeout=60)
        self.assertEqual([(f["pages"], f["status"]) for f in recs], [(4, "success")])
        # Pages went to the store while the call ran (the first at least: an accelerated
        # call may end before the others are copied, and then they need not be).
        fx.wait_log(self, "queue rx page stored fax=%s page=1" % recs[0]["id"], 10)
        # The call's END runs after its record, and page blobs go after the commit that
        # took their rows: wait (up to 10 s) until nothing of the call is left.
        deadline = time.monotonic() + 10
        while True:
            c = fx.db()
            try:
                left = [c.execute("SELECT COUNT(*) FROM %s" % t).fetchone()[0]
                        for t in ("rx_calls", "rx_pages")]
            finally:
                c.close()
            # The pages stored during the call went with it: every blob left is a record's.
            stray = fx.stray_blobs()
            if (left == [0, 0] and stray == ([], [])) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual(left, [0, 0])
        self.assertEqual(stray, ([], []))


if __name__ == "__main__":
    main()
