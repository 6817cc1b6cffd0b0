"""A dialler that loses its claim on a fax hangs up (issue 8: never a double send).

While a real-time loopback call is up, after its first confirmed page, the destination's
lease is taken away in the database, as another node would take it after this node
could not renew it. faxd's lease keeper learns it at its next renewal and the dialler
hangs up at once: the far end keeps the confirmed page as a partial fax, and the store
refuses the lost attempt's record and progress. When the other "node" then lets the
lease run out, faxd takes the destination over as its second attempt, resuming at the
second page: two dials, two attempts, every page delivered once. And a destination whose
only attempt a dead node had claimed ends failed_internal_process_error once taken over,
without a dial."""

import os
import sqlite3
import time

from faxd_harness import FreshFaxdTestCase, fixture_bytes, main

DOC = "fax_g3_fine.tif"  # 2 pages
THIEF = "ffffffff" * 4   # the lease owner of another node


class LeaseLostTest(FreshFaxdTestCase):
    faxd_env = {"FAXD_LINE_LOOPBACK_SPEED": "realtime", "FAXD_STORE_LEASE": "6"}

    def setUp(self):
        super().setUp()
        self.faxd.start()

    def write(self, sql, args):
        """One statement on the store, as another node would run it."""
        if self.faxd.pg_db:
            c = self.faxd.db()
        else:
            c = sqlite3.connect(os.path.join(self.faxd.data_dir, "faxd.db"), timeout=10,
                                isolation_level=None)
        try:
            c.execute(sql, args)
        finally:
            c.close()

    def dest(self, fax_id):
        """The destination's progress, attempts and lease owner; its attempt rows."""
        row = self.faxd.db_one("SELECT pages_done, attempts, lease_owner FROM outbox_dests "
                               "WHERE fax_id = ?", (fax_id,))
        n = self.faxd.db_one("SELECT COUNT(*) FROM attempts WHERE fax_id = ?", (fax_id,))[0]
        return (tuple(row) if row else None), n

    def fax_attempts(self, fax_id):
        return self.faxd.db_one("SELECT attempts FROM faxes WHERE id = ?", (fax_id,))[0]

    def send_doc(self, acct, **extra):
        """DOC to the account's own number (the loopback line); returns the fax id."""
        tok, num = acct["token"], acct["number"]
        path = self.upload_ok(tok, fixture_bytes(DOC), filename=DOC)
        payload = {"from": num, "to": [num], "files": [path], "return_ids": True}
        payload.update(extra)
        return self.send_ok(tok, payload)["ids"][num]

    def wait_log(self, text, timeout=120):
        self.faxd.wait_log(self, text, timeout)

    def inbox(self, tok):
        r = self.req("GET", "/accounts/self/faxes", token=tok, query={"category": "inbox"})
        return sorted((f["status"], f["pages"]) for f in
                      self.assertJson(r, 200, "FaxList")["data"]["records"])

    def test_lost_lease_hangs_up_and_is_taken_over(self):
        acct = self.new_account(number=True)
        tok = acct["token"]
        fax_id = self.send_doc(acct, options={"retry": {"count": 1, "delay": 0}})
        deadline = time.monotonic() + 120
        while (self.dest(fax_id)[0] or (0,))[0] < 1:
            self.assertLess(time.monotonic(), deadline, self.faxd.stderr_tail())
            time.sleep(0.1)
        # Another node takes the lease (for an hour) while page 2 is on its way.
        self.write("UPDATE outbox_dests SET lease_owner = ?, lease_until = ? WHERE fax_id = ?",
                   (THIEF, int(time.time()) + 3600, fax_id))
        self.wait_log("queue lease lost fax=%s" % fax_id)
        self.wait_log("queue attempt ended fax=%s attempt=1" % fax_id)
        self.wait_log("queue attempt not recorded fax=%s attempt=1" % fax_id)
        # The far end kept the confirmed page; the store kept the thief's claim as it was.
        deadline = time.monotonic() + 30
        while not self.inbox(tok):
            self.assertLess(time.monotonic(), deadline, self.faxd.stderr_tail())
            time.sleep(0.2)
        self.assertEqual(self.inbox(tok), [("partially_received", 1)])
        self.assertEqual(self.dest(fax_id), ((1, 1, THIEF), 0))
        self.assertEqual(len(self.calls(fax_id)), 1)
        # The other node dies: its lease runs out and this one takes the fax over.
        self.write("UPDATE outbox_dests SET lease_until = 0 WHERE fax_id = ?", (fax_id,))
        fax = self.wait_fax(tok, fax_id, timeout=180)
        self.assertEqual((fax["status"], fax["pages"]), ("success", 2), fax)
        self.assertIn("attempt=2", self.calls(fax_id)[-1])
        self.assertEqual(len(self.calls(fax_id)), 2)
        self.assertEqual(self.inbox(tok), [("partially_received", 1), ("success", 1)])
        self.assertEqual(self.fax_attempts(fax_id), 2)

    def test_taken_over_with_no_try_left(self):
        # A node claimed the fax's only attempt and died: once its lease has run out this
        # node takes the destination over and, with no try left, ends it as a restart
        # would, without dialling; the record counts the one attempt made.
        acct = self.new_account(number=True)
        tok = acct["token"]
        fax_id = self.send_doc(acct, send_time="2099-01-01 00:00:00 +0000",
                           options={"retry": {"count": 0}})
        deadline = time.monotonic() + 60
        while True:
            row = self.faxd.db_one("SELECT o.id, o.status FROM outbox o JOIN outbox_dests d "
                                   "ON d.outbox_id = o.id WHERE d.fax_id = ?", (fax_id,))
            if row[1] == "scheduled_for_sending":
                break
            self.assertLess(time.monotonic(), deadline, self.faxd.stderr_tail())
            time.sleep(0.2)
        self.write("UPDATE outbox_dests SET attempts = 1, lease_owner = ?, lease_until = ? "
                   "WHERE fax_id = ?", (THIEF, int(time.time()) + 3, fax_id))
        self.write("UPDATE outbox SET send_time = 0 WHERE id = ?", (row[0],))
        fax = self.wait_fax(tok, fax_id, timeout=60)
        self.assertEqual(fax["status"], "failed_internal_process_error", fax)
        self.assertIn("faxd stopped during the last attempt", fax["description"])
        self.assertEqual(self.calls(fax_id), [])
        self.assertEqual(self.fax_attempts(fax_id), 1)


if __name__ == "__main__":
    main()
