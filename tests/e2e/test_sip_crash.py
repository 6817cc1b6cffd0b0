"""Crash safety over SIP (issue 6 point 3 with issue 5's line): faxd A sends a 3-page fax
to faxd B through their trunks, and one of them is killed with SIGKILL mid-page by an
injected crash point, then started again.

- A killed right after the first page was confirmed: after the restart A resumes at the
  second page (one retry allowed) and the fax ends `success`; B keeps the first call's
  complete page as a `partially_received` fax and receives the rest in a second one; A's
  call log shows exactly two calls.
- B killed right after completing the first page: after the restart B stores that page
  as a `partially_received` fax recovered from what the call left on disk.
- B stopped cleanly (SIGTERM) right after completing the second page: it hangs up with
  BYE during T.30; A ends `partially_sent` keeping the confirmed pages, B stores the
  complete pages as `partially_received`."""

import os
import time
import unittest

from faxd_harness import fixture_bytes, main, run_parallel
from sip_harness import SipFaxd, free_udp_port, trunk_conf, wait_fax, wait_inbox
from test_fax_flow import tiff_pages

DOC = "mixed_orientation.pdf"


class Pair:
    def __init__(self, env_a=None, env_b=None):
        pa, pb = free_udp_port(), free_udp_port()
        common = {"FAXD_LINE_NO_MEDIA_TIMEOUT": "5"}
        self.a = SipFaxd([trunk_conf("to-b", host="127.0.0.1", port=pb, prefixes="+1303")],
                         sip_port=pa, env=dict(common, **(env_a or {})), start=False)
        self.b = SipFaxd([trunk_conf("to-a", host="127.0.0.1", port=pa, prefixes="+1202")],
                         sip_port=pb, env=dict(common, **(env_b or {})), start=False)
        self.b.next_number = lambda: "+13035550100"  # one number, served by A's trunk
        self.call_log = os.path.join(self.a.root, "calls.log")
        self.a.extra_env["FAXD_LINE_CALL_LOG"] = self.call_log

    def close(self):
        try:
            self.a.close()
        finally:
            self.b.close()


class SipCrashTest(unittest.TestCase):
    maxDiff = None

    def assertJson(self, r, status=200, model=None):
        self.assertEqual(r.status, status, r)
        return r.json()

    def crash_and_restart(self, fx, point, timeout=180):
        try:
            fx.proc.wait(timeout)
        except Exception:  # noqa: BLE001
            self.fail("crash point %s not reached\n%s" % (point, fx.stderr_tail()))
        self.assertEqual(fx.proc.returncode, -9, fx.stderr_tail())
        self.assertIn("crash point %s reached" % point, fx.stderr_text())
        fx.kill9()
        del fx.extra_env["FAXD_TEST_CRASH_AT"]
        fx.start()

    def send(self, pair, a_acct, to, retry):
        r = pair.a.upload(a_acct["token"], fixture_bytes(DOC), filename=DOC)
        path = self.assertJson(r, 200)["path"]
        payload = {"from": a_acct["number"], "to": [to], "files": [path], "return_ids": True,
                   "options": {"retry": {"count": retry, "delay": 0}}}
        r = pair.a.req("POST", "/accounts/self/outbox", token=a_acct["token"], body=payload)
        return self.assertJson(r, 201)["ids"][to]

    def download(self, fx, tok, fax_id):
        r = fx.req("GET", "/accounts/self/files/" + fax_id, token=tok, query={"format": "tiff"})
        self.assertEqual(r.status, 200, r)
        return tiff_pages(r.body)

    def start(self, pair):
        """Starts both faxd; an account with a number on each."""
        self.addCleanup(pair.close)
        pair.a.start()
        pair.b.start()
        return pair.a.new_account(number=True), pair.b.new_account(number=True)

    def sender_killed(self):
        pair = Pair(env_a={"FAXD_TEST_CRASH_AT": "page_confirmed"})
        a_acct, b_acct = self.start(pair)
        fax_id = self.send(pair, a_acct, b_acct["number"], retry=1)
        self.crash_and_restart(pair.a, "page_confirmed")
        fax = wait_fax(self, pair.a, a_acct["token"], fax_id, timeout=300)
        self.assertEqual((fax["status"], fax["pages"]), ("success", 3), fax)
        with open(pair.call_log) as f:
            calls = [l for l in f if "fax=%s " % fax_id in l]
        self.assertEqual(len(calls), 2, calls)
        recs = wait_inbox(self, pair.b, b_acct["token"], 2, timeout=120)
        got = sorted((r["pages"], r["status"], r["id"]) for r in recs)
        self.assertEqual([g[:2] for g in got], [(1, "partially_received"), (2, "success")])
        sent = self.download(pair.a, a_acct["token"], fax_id)
        first = self.download(pair.b, b_acct["token"], got[0][2])
        rest = self.download(pair.b, b_acct["token"], got[1][2])
        self.assertEqual(len(first) + len(rest), 3)
        # Below spandsp's header line the received pages are the sent ones.
        for (sw, sh, srows), (rw, rh, rrows) in zip(sent, first + rest):
            self.assertEqual(sw, rw)
            self.assertEqual(rrows[rh - sh + 64:], srows[64:])

    def receiver_killed(self):
        pair = Pair(env_b={"FAXD_TEST_CRASH_AT": "page_received"})
        a_acct, b_acct = self.start(pair)
        fax_id = self.send(pair, a_acct, b_acct["number"], retry=0)
        self.crash_and_restart(pair.b, "page_received")
        recs = wait_inbox(self, pair.b, b_acct["token"], 1, timeout=60)
        self.assertEqual([(r["pages"], r["status"]) for r in recs], [(1, "partially_received")])
        self.assertIn("faxd stopped during the call", recs[0]["description"])
        fax = wait_fax(self, pair.a, a_acct["token"], fax_id, timeout=120)
        self.assertNotEqual(fax["status"], "success", fax)
        time.sleep(2)
        recs = wait_inbox(self, pair.b, b_acct["token"], 1)
        self.assertEqual(len(recs), 1)

    def far_end_bye(self):
        pair = Pair(env_b={"FAXD_TEST_CRASH_AT": "page_received:2",
                           "FAXD_TEST_CRASH_SIGNAL": "TERM"})
        a_acct, b_acct = self.start(pair)
        fax_id = self.send(pair, a_acct, b_acct["number"], retry=0)
        try:
            pair.b.proc.wait(180)
        except Exception:  # noqa: BLE001
            self.fail("B did not stop\n" + pair.b.stderr_tail())
        self.assertEqual(pair.b.proc.returncode, 0, pair.b.stderr_tail())
        fax = wait_fax(self, pair.a, a_acct["token"], fax_id, timeout=120)
        # The BYE came after the second page: page 1 at least was confirmed (MCF) and is
        # kept; the third was never sent.
        self.assertEqual(fax["status"], "partially_sent", fax)
        self.assertIn(fax["pages"], (1, 2), fax)
        pair.b.kill9()
        del pair.b.extra_env["FAXD_TEST_CRASH_AT"]
        pair.b.start()
        recs = wait_inbox(self, pair.b, b_acct["token"], 1, timeout=60)
        self.assertEqual([(r["pages"], r["status"]) for r in recs], [(2, "partially_received")])

    def test_killed_or_hung_up_mid_page(self):
        # All three cases at once (each a real-time call of a minute or more).
        run_parallel([self.sender_killed, self.receiver_killed, self.far_end_bye])

if __name__ == "__main__":
    main()
