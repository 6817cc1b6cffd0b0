"""Crash safety (issue 6 point 3): faxd is killed with SIGKILL at each dangerous point —
during an upload, between accepting a fax and converting it, mid-conversion, while
dialling, mid-page, between the call's end and its record, during a webhook delivery,
between a record's deletion and its blob's, between a blob and the record naming it —
by an injected crash point (FAXD_TEST_CRASH_AT), then started again. Each case checks
the store (records, uploads, blobs), the line's call log (how often each destination
was dialled) and, for webhooks, the receiver's log."""

import hashlib
import json
import os
import time

from faxd_harness import ConnectionClosed, fixture_bytes, main
from faxd_harness import FreshFaxdTestCase
from test_fax_flow import HEADER_ROWS, tiff_pages
from test_webhooks import Receiver

SANDBOX_OK = "+15550000001"


class CrashTest(FreshFaxdTestCase):
    """A fresh faxd per test: each one dies on purpose."""

    faxd_env = {"FAXD_WEBHOOK_ALLOW_PRIVATE": "on", "FAXD_WEBHOOK_RETRY_BASE": "1"}

    # -- crash and restart
    def start_crashing_at(self, point):
        self.faxd.extra_env["FAXD_TEST_CRASH_AT"] = point
        self.faxd.start()

    def wait_crash_and_restart(self, point, timeout=120):
        p = self.faxd.proc
        try:
            p.wait(timeout)
        except Exception:
            self.fail("faxd did not reach crash point %s within %d s\n%s" % (
                point, timeout, self.faxd.stderr_tail()))
        self.assertEqual(p.returncode, -9, self.faxd.stderr_tail())
        self.assertIn("crash point %s reached" % point.split(":")[0], self.faxd.stderr_text())
        self.faxd.kill9()  # closes the stderr file
        del self.faxd.extra_env["FAXD_TEST_CRASH_AT"]
        self.faxd.start()

    # -- helpers
    def send_doc(self, acct, to, names=("report.pdf",), retry=None):
        paths = []
        for name in names:
            r = self.faxd.upload(acct["token"], fixture_bytes(name), filename=name)
            paths.append(self.assertJson(r, 200, "FilePath")["path"])
        payload = {"from": acct["number"], "to": [to], "files": paths, "return_ids": True}
        if retry is not None:
            payload["options"] = {"retry": {"count": retry, "delay": 0}}
        return self.send_ok(acct["token"], payload)["ids"][to]

    def sandbox_fax_through(self, point):
        """One fax to the sandbox line with faxd set to die at point, restarted once it
        has: (token, fax id) once the fax is delivered, dialled once."""
        self.start_crashing_at(point)
        acct = self.new_account(number=True)
        tok = acct["token"]
        fax_id = self.send_doc(acct, SANDBOX_OK, retry=0)
        self.wait_crash_and_restart(point)
        self.assertEqual(self.wait_fax(tok, fax_id)["status"], "success")
        self.assertEqual(len(self.calls(fax_id)), 1)
        return tok, fax_id

    def inbox(self, tok):
        r = self.req("GET", "/accounts/self/faxes", token=tok, query={"category": "inbox"})
        return sorted(self.assertJson(r, 200, "FaxList")["data"]["records"],
                      key=lambda f: f["pages"])

    def only_sent_fax(self, tok):
        deadline = time.monotonic() + 120
        while True:
            r = self.req("GET", "/accounts/self/faxes", token=tok, query={"category": "sent"})
            recs = self.assertJson(r, 200, "FaxList")["data"]["records"]
            if recs or time.monotonic() > deadline:
                self.assertEqual(len(recs), 1, recs)
                return recs[0]["id"]
            time.sleep(0.2)

    def settle(self, tok):
        """Waits until the outbox is empty, then a moment for anything extra to show."""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            r = self.assertJson(self.req("GET", "/accounts/self/outbox", token=tok), 200,
                                "OutboxList")
            if not r["records"]:
                break
            time.sleep(0.2)
        time.sleep(1.5)

    def download(self, tok, fax_id):
        r = self.req("GET", "/accounts/self/files/" + fax_id, token=tok,
                     query={"format": "tiff"})
        self.assertStatus(r, 200)
        return r.body

    def assert_same_pages(self, sent, received, offset=0):
        """Received pages equal the sent pages starting at `offset`, below the header."""
        for i, (rw, rh, rrows) in enumerate(received):
            sw, sh, srows = sent[offset + i]
            self.assertEqual(sw, rw)
            extra = rh - sh
            body = rrows[extra:] if extra else rrows
            first = HEADER_ROWS if not extra else 0
            self.assertEqual(body[first:], srows[first:], "page %d differs" % (offset + i))

    # -- the cases
    def test_during_an_upload(self):
        self.faxd.start()
        acct = self.new_account(number=True)
        tok = acct["token"]
        kept = fixture_bytes("report.pdf")
        r = self.faxd.upload(tok, kept, filename="kept.pdf")
        kept_path = self.assertJson(r, 200, "FilePath")["path"]
        self.faxd.stop()

        self.start_crashing_at("upload:3")
        big = os.urandom(3 * 1024 * 1024)
        try:
            self.faxd.upload(tok, big, filename="big.pdf")
        except (ConnectionClosed, OSError):
            pass
        self.wait_crash_and_restart("upload:3")

        # The acknowledged upload is intact, byte for byte; the cut one left nothing.
        row = self.faxd.upload_row(kept_path)
        self.assertIsNotNone(row)
        with open(self.faxd.blob_path(row["blob"]), "rb") as f:
            self.assertEqual(hashlib.sha256(f.read()).hexdigest(),
                             hashlib.sha256(kept).hexdigest())
        c = self.faxd.db()
        self.assertEqual(c.execute("SELECT COUNT(*) FROM uploads").fetchone()[0], 1)
        c.close()
        tmp = os.path.join(self.faxd.data_dir, "blobs", "tmp")
        self.assertEqual(os.listdir(tmp), [])
        # The kept upload still sends.
        r = self.send_ok(tok, {"from": acct["number"], "to": [SANDBOX_OK],
                               "files": [kept_path], "return_ids": True})
        fax = self.wait_fax(tok, r["ids"][SANDBOX_OK])
        self.assertEqual(fax["status"], "success")

    def check_delivered_once(self, acct, fax_id, pages):
        tok = acct["token"]
        fax = self.wait_fax(tok, fax_id)
        self.settle(tok)
        self.assertEqual((fax["status"], fax["pages"]), ("success", pages), fax)
        self.assertEqual(len(self.calls(fax_id)), 1, self.calls())
        inbox = self.inbox(tok)
        self.assertEqual([(f["status"], f["pages"]) for f in inbox], [("success", pages)])
        return fax, inbox

    def test_between_accept_and_conversion(self):
        self.start_crashing_at("convert_start")
        acct = self.new_account(number=True)
        try:
            fax_id = self.send_doc(acct, acct["number"])  # acknowledged: 201 with its id
        except (ConnectionClosed, OSError):
            # The converter can reach the crash point before the 201 has been written:
            # the fax was accepted all the same, and the sent list shows its id.
            fax_id = None
        self.wait_crash_and_restart("convert_start")
        if fax_id is None:
            fax_id = self.only_sent_fax(acct["token"])
        self.check_delivered_once(acct, fax_id, 4)

    def test_mid_conversion(self):
        self.start_crashing_at("convert_doc")
        acct = self.new_account(number=True)
        fax_id = self.send_doc(acct, acct["number"], names=("report.pdf", "letter_a4.pdf"))
        self.wait_crash_and_restart("convert_doc")
        self.check_delivered_once(acct, fax_id, 5)

    def test_while_dialling_with_a_retry_left(self):
        # The attempt counts at claim: after the crash one try is left, and it is used.
        self.start_crashing_at("dial_start")
        acct = self.new_account(number=True)
        fax_id = self.send_doc(acct, acct["number"], retry=1)
        self.wait_crash_and_restart("dial_start")
        fax, _ = self.check_delivered_once(acct, fax_id, 4)
        self.assertEqual(fax["max_retry"], 1)

    def test_while_dialling_with_no_retry(self):
        # No try is left: the fax ends failed, says why, and is not dialled again.
        self.start_crashing_at("dial_start")
        acct = self.new_account(number=True)
        tok = acct["token"]
        fax_id = self.send_doc(acct, acct["number"], retry=0)
        self.wait_crash_and_restart("dial_start")
        fax = self.wait_fax(tok, fax_id)
        self.settle(tok)
        self.assertEqual(fax["status"], "failed_internal_process_error", fax)
        self.assertIn("faxd stopped during the last attempt", fax["description"])
        self.assertEqual(self.calls(fax_id), [])
        self.assertEqual(self.inbox(tok), [])

    def test_mid_page(self):
        # Killed right after the first page was confirmed, while the second is on its way:
        # the receiving side keeps its complete page as a partially received fax, and the
        # sender resumes at the second page on its next try.
        self.start_crashing_at("page_confirmed")
        acct = self.new_account(number=True)
        tok = acct["token"]
        fax_id = self.send_doc(acct, acct["number"], retry=1)
        self.wait_crash_and_restart("page_confirmed")
        fax = self.wait_fax(tok, fax_id)
        self.settle(tok)
        self.assertEqual((fax["status"], fax["pages"]), ("success", 4), fax)
        self.assertEqual(len(self.calls(fax_id)), 2, self.calls())
        inbox = self.inbox(tok)
        self.assertEqual([(f["status"], f["pages"]) for f in inbox],
                         [("partially_received", 1), ("success", 3)], inbox)
        sent = tiff_pages(self.download(tok, fax_id))
        self.assert_same_pages(sent, tiff_pages(self.download(tok, inbox[0]["id"])), 0)
        self.assert_same_pages(sent, tiff_pages(self.download(tok, inbox[1]["id"])), 1)
        # The interrupted call is not lost from the record: two attempts.
        c = self.faxd.db()
        n = c.execute("SELECT attempts FROM faxes WHERE id = ?", (fax_id,)).fetchone()[0]
        c.close()
        self.assertEqual(n, 2)

    def test_mid_page_with_no_retry(self):
        self.start_crashing_at("page_confirmed")
        acct = self.new_account(number=True)
        tok = acct["token"]
        fax_id = self.send_doc(acct, acct["number"], retry=0)
        self.wait_crash_and_restart("page_confirmed")
        fax = self.wait_fax(tok, fax_id)
        self.settle(tok)
        self.assertEqual((fax["status"], fax["pages"]), ("partially_sent", 1), fax)
        self.assertEqual(len(self.calls(fax_id)), 1)
        self.assertEqual([(f["status"], f["pages"]) for f in self.inbox(tok)],
                         [("partially_received", 1)])

    def test_between_the_call_and_its_record(self):
        # Every page was confirmed: the fax is delivered and must not be dialled again,
        # even though its retry policy would allow it.
        self.start_crashing_at("call_end")
        acct = self.new_account(number=True)
        fax_id = self.send_doc(acct, acct["number"], retry=3)
        self.wait_crash_and_restart("call_end")
        fax, inbox = self.check_delivered_once(acct, fax_id, 4)
        self.assertEqual(fax["description"], "OK")

    def test_during_webhook_delivery(self):
        rx = Receiver()
        self.addCleanup(rx.close)
        self.start_crashing_at("webhook_sent")
        acct = self.new_account(number=True)
        tok = acct["token"]
        r = self.req("POST", "/hooks", token=tok, body={"target": rx.url("/h"),
                                                        "event": "fax_sent"})
        self.assertStatus(r, 200)
        fax_id = self.send_doc(acct, SANDBOX_OK)
        self.wait_crash_and_restart("webhook_sent")
        # Answered once before the crash, not yet recorded: sent again after the start,
        # with the same delivery id so the receiver can tell, then never again.
        reqs = rx.wait("/h", 2, timeout=60)
        time.sleep(2.5)
        reqs = rx.got("/h")
        self.assertEqual(len(reqs), 2, reqs)
        ids = {r["headers"]["X-Faxd-Delivery"] for r in reqs}
        self.assertEqual(len(ids), 1)
        bodies = [json.loads(r["body"]) for r in reqs]
        self.assertEqual({b["hook"]["id"] for b in bodies}, {fax_id})
        self.assertEqual({b["data"]["status"] for b in bodies}, {"success"})
        self.assertEqual(len(self.calls(fax_id)), 1)

    def test_between_a_record_deleted_and_its_blob(self):
        # Nothing is left behind: the blobs of deleted records go even when faxd dies
        # between the commit and the removal (kept in blob_trash, removed at the start).
        # The final record commits with the outbox's removal; its document stays noted.
        tok, fax_id = self.sandbox_fax_through("blob_purge")
        image = self.faxd.db_one("SELECT blob FROM faxes WHERE id = ?", (fax_id,))[0]
        self.assertTrue(image)
        self.assertEqual(self.faxd.stray_blobs(), ([], []))
        # Deleting the fax: the record is gone, then faxd dies before its image is.
        self.faxd.stop()
        self.start_crashing_at("blob_purge")
        try:
            self.req("DELETE", "/accounts/self/faxes/" + fax_id, token=tok)
        except (ConnectionClosed, OSError):
            pass
        self.wait_crash_and_restart("blob_purge")
        self.assertError(self.req("GET", "/accounts/self/faxes/" + fax_id, token=tok), 404)
        self.assertFalse(os.path.exists(self.faxd.blob_path(image)))
        self.assertEqual(self.faxd.stray_blobs(), ([], []))
        # The list of blob columns the check above reads is complete.
        self.assertEqual(self.faxd.blob_columns(), sorted(self.faxd.BLOB_COLUMNS))

    def test_between_a_blob_and_its_record(self):
        # A converted document's blob is committed, then faxd dies before the record that
        # names it: the conversion is done again, and the first blob, named by nothing, is
        # removed by the daily pass once it is a day old.
        tok, fax_id = self.sandbox_fax_through("convert_stored")
        self.settle(tok)
        # The pass ran at the first start and is not due again for a day.
        strays, noted = self.faxd.stray_blobs()
        self.assertEqual((len(strays), noted), (1, []), strays)
        self.faxd.stop()
        self.faxd.extra_env["FAXD_TEST_CLOCK_OFFSET"] = str(2 * 86400)
        self.faxd.start()
        self.assertIn("housekeeping blobs that no record names removed count=1",
                      self.faxd.stderr_text())
        self.assertEqual(self.faxd.stray_blobs(), ([], []))
        self.assertFalse(os.path.exists(self.faxd.blob_path(strays[0])))
        self.assertEqual(self.wait_fax(tok, fax_id)["status"], "success")
        self.assertIn(self.download(tok, fax_id)[:2], (b"II", b"MM"))


if __name__ == "__main__":
    main()
