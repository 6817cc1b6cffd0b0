"""Faxes really travel: a document sent through the API to the account's own number goes
through real T.30 (spandsp) on the loopback line and lands in the inbox with the same
page images; sandbox numbers produce each failure through the same engine; retries
happen as requested and a partial send resumes at the first unconfirmed page."""

import os
import struct
import subprocess
import tempfile
import time

from faxd_harness import FaxdTestCase, fixture_bytes, main

HEADER_ROWS = 64  # rows spandsp's page header occupies at the top of a fine page
REVERSE = bytes(int("{:08b}".format(b)[::-1], 2) for b in range(256))


def tiff_pages(data):
    """Decodes a bilevel TIFF into [(width, height, rows)] with rows as bytes, through
    tiffcp (libtiff-tools) to an uncompressed single-strip form, then plain struct
    parsing: independent of faxd's own TIFF code."""
    with tempfile.TemporaryDirectory() as d:
        src, raw = os.path.join(d, "in.tif"), os.path.join(d, "raw.tif")
        with open(src, "wb") as f:
            f.write(data)
        subprocess.run(["tiffcp", "-c", "none", "-r", "100000", src, raw], check=True,
                       capture_output=True)
        with open(raw, "rb") as f:
            t = f.read()
    end = "<" if t[:2] == b"II" else ">"
    off = struct.unpack(end + "I", t[4:8])[0]
    pages = []
    while off:
        n = struct.unpack(end + "H", t[off:off + 2])[0]
        tags = {}
        for i in range(n):
            e = t[off + 2 + 12 * i: off + 14 + 12 * i]
            tag, typ, cnt = struct.unpack(end + "HHI", e[:8])
            val = struct.unpack(end + ("H" if typ == 3 else "I"), e[8:10] if typ == 3 else e[8:12])[0]
            tags[tag] = val
        w, h = tags[256], tags[257]
        so, sc = tags[273], tags[279]
        photometric = tags.get(262, 0)
        body = t[so:so + sc]
        stride = (w + 7) // 8
        rows = [body[y * stride:(y + 1) * stride] for y in range(h)]
        if tags.get(266, 1) == 2:  # FillOrder lsb-to-msb: normalise the bit order
            rows = [r.translate(REVERSE) for r in rows]
        if photometric == 1:  # min-is-black: normalise to 1 = black
            rows = [bytes(255 - b for b in r) for r in rows]
        pages.append((w, h, rows))
        off = struct.unpack(end + "I", t[off + 2 + 12 * n: off + 6 + 12 * n])[0]
    return pages


def assert_same_pages(tc, sent_tiff, recv_tiff, pages):
    """The received fax shows the sent pages: same count and width, and below the header
    line spandsp draws at the top of each received page, the same rows."""
    sent_pages, recv_pages = tiff_pages(sent_tiff), tiff_pages(recv_tiff)
    tc.assertEqual(len(sent_pages), pages)
    tc.assertEqual(len(recv_pages), pages)
    for i, ((sw, sh, srows), (rw, rh, rrows)) in enumerate(zip(sent_pages, recv_pages)):
        tc.assertEqual(sw, rw, "page %d width" % i)
        extra = rh - sh
        tc.assertGreaterEqual(extra, 0, "page %d: received page shorter" % i)
        body = rrows[extra:] if extra else rrows
        first = HEADER_ROWS if not extra else 0
        tc.assertEqual(body[first:], srows[first:], "page %d differs below the header" % i)
        tc.assertTrue(any(any(r) for r in rrows[:HEADER_ROWS]),
                      "page %d: no header line drawn" % i)


class FaxFlowTest(FaxdTestCase):
    DOC, DOC_PAGES = "report.pdf", 4
    TRANSPORT_WORD = "audio (G.711)"

    def send_doc(self, acct, to, name="report.pdf", retry=None, **extra):
        r = self.faxd.upload(acct["token"], fixture_bytes(name), filename=name)
        path = self.assertJson(r, 200, "FilePath")["path"]
        payload = {"from": acct["number"], "to": to, "files": [path], "return_ids": True}
        if retry:
            payload["options"] = {"retry": retry}
        payload.update(extra)
        return self.send_ok(acct["token"], payload)["ids"]

    def download(self, tok, fax_id, fmt):
        r = self.req("GET", "/accounts/self/files/" + fax_id, token=tok, query={"format": fmt})
        self.assertStatus(r, 200)
        return r.body

    def test_send_to_own_number_arrives_with_the_same_pages(self):
        acct = self.new_account(number=True)
        tok = acct["token"]
        ids = self.send_doc(acct, [acct["number"]], name=self.DOC)
        sent = self.wait_fax(tok, ids[acct["number"]], timeout=300)
        self.assertEqual(sent["status"], "success", sent)
        self.assertEqual(sent["pages"], self.DOC_PAGES)
        inbox = self.assertJson(self.req("GET", "/accounts/self/faxes", token=tok,
                                         query={"category": "inbox"}), 200, "FaxList")
        recs = inbox["data"]["records"]
        self.assertEqual(len(recs), 1)
        got = recs[0]
        self.assertEqual((got["direction"], got["status"], got["pages"]),
                         ("incoming", "success", self.DOC_PAGES))
        self.assertEqual(got["from"], acct["number"])
        self.assertEqual(got["to"], acct["number"])

        assert_same_pages(self, self.download(tok, sent["id"], "tiff"),
                          self.download(tok, got["id"], "tiff"), self.DOC_PAGES)

        for fid in (sent["id"], got["id"]):
            pdf = self.download(tok, fid, "pdf")
            self.assertTrue(pdf.startswith(b"%PDF"))
        # The confirmation report shows the call: transport, speed, the far end's ident.
        r = self.req("GET", "/accounts/self/report/" + sent["id"], token=tok)
        self.assertStatus(r, 200)
        text = subprocess.run(["pdftotext", "-", "-"], input=r.body, capture_output=True,
                              check=True).stdout.decode()
        self.assertIn(self.TRANSPORT_WORD, text)
        self.assertIn("bit/s", text)
        self.assertIn("Delivered (success)", text)
        self.assertIn(acct["number"], text)

    def test_sandbox_numbers(self):
        acct = self.new_account(number=True)
        tok = acct["token"]
        cases = {"0001": "success", "0002": "failed_user_busy", "0003": "failed_no_answer",
                 "0004": "failed_unallocated_number", "0005": "failed_invalid_number_format",
                 "0006": "failed_destination_not_supported", "0007": "failed_fs_2",
                 "0008": "failed_fs_49", "0009": "partially_sent", "0010": "failed",
                 "0011": "failed_normal_temporary_failure", "0012": "failed_normal_clearing",
                 "0013": "failed_to_send", "9999": "failed_unallocated_number"}
        numbers = ["+1555000" + s for s in cases]
        ids = self.send_doc(acct, numbers, name="report.pdf")
        for suffix, status in cases.items():
            with self.subTest(number=suffix):
                rec = self.wait_fax(tok, ids["+1555000" + suffix], timeout=180)
                self.assertEqual(rec["status"], status, rec)
                self.assertEqual(rec["max_retry"], 0)
        self.assertEqual(self.wait_fax(tok, ids["+15550000009"])["pages"], 1)
        self.assertEqual(self.wait_fax(tok, ids["+15550000001"])["pages"], 4)

    def test_retries_and_resume(self):
        acct = self.new_account(number=True)
        tok = acct["token"]
        # Busy every time: 1 + 2 attempts, then the final record.
        ids = self.send_doc(acct, ["+15550000002"], retry={"count": 2, "delay": 0})
        rec = self.wait_fax(tok, ids["+15550000002"])
        self.assertEqual(rec["status"], "failed_user_busy")
        self.assertEqual(rec["max_retry"], 2)
        self.assertEqual(self.attempts(rec["id"]), [("failed_user_busy", 0)] * 3)
        # Never retried: an unallocated number fails at once despite count 3.
        ids = self.send_doc(acct, ["+15550000004"], retry={"count": 3, "delay": 0})
        rec = self.wait_fax(tok, ids["+15550000004"])
        self.assertEqual(len(self.attempts(rec["id"])), 1)
        # The far end hangs up after each confirmed page: each retry resumes at the first
        # unconfirmed page and sends only the missing ones, until all 4 are through.
        ids = self.send_doc(acct, ["+15550000009"], retry={"count": 3, "delay": 0})
        rec = self.wait_fax(tok, ids["+15550000009"])
        self.assertEqual(rec["pages"], 4, rec)
        self.assertEqual(rec["status"], "success", rec)
        pages_each = [p for _, p in self.attempts(rec["id"])]
        self.assertEqual(pages_each, [1, 1, 1, 1])

    def test_retry_waits_for_its_delay(self):
        """delay is in minutes: the second attempt waits for it (the clock is moved with
        FAXD_TEST_CLOCK_OFFSET across a restart, as faxd reads all time through it)."""
        acct = self.new_account(number=True)
        tok = acct["token"]
        ids = self.send_doc(acct, ["+15550000002"], name="letter_a4.pdf",
                            retry={"count": 1, "delay": 2})
        fax_id = ids["+15550000002"]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not self.attempts(fax_id):
            time.sleep(0.1)
        time.sleep(2)  # ample time for a second attempt, were it not waiting
        self.assertEqual(self.attempts(fax_id), [("failed_user_busy", 0)])
        self.assertEqual(self.req("GET", "/accounts/self/faxes/" + fax_id, token=tok).status, 404)
        try:
            self.faxd.stop()
            self.faxd.extra_env["FAXD_TEST_CLOCK_OFFSET"] = "121"
            self.faxd.start()
            rec = self.wait_fax(tok, fax_id)
        finally:
            self.faxd.stop()
            self.faxd.extra_env.pop("FAXD_TEST_CLOCK_OFFSET", None)
            self.faxd.start()
        self.assertEqual(rec["status"], "failed_user_busy")
        self.assertEqual((rec["max_retry"], rec["retry_delay"]), (1, 2))
        c = self.faxd.db()
        try:
            starts = [r[0] for r in c.execute("SELECT started FROM attempts WHERE fax_id = ? "
                                              "ORDER BY started", (fax_id,))]
        finally:
            c.close()
        self.assertEqual(len(starts), 2)
        self.assertGreaterEqual(starts[1] - starts[0], 120)

    def test_send_time_is_honoured_within_a_second(self):
        acct = self.new_account(number=True)
        tok = acct["token"]
        due = int(time.time()) + 4
        send_time = time.strftime("%Y-%m-%d %H:%M:%S +0000", time.gmtime(due))
        ids = self.send_doc(acct, ["+15550000001"], name="letter_a4.pdf", send_time=send_time)
        rec = self.wait_fax(tok, ids["+15550000001"])
        self.assertEqual(rec["status"], "success")
        c = self.faxd.db()
        try:
            started = c.execute("SELECT started FROM attempts WHERE fax_id = ?",
                                (rec["id"],)).fetchone()[0]
        finally:
            c.close()
        # Dialled at the due second or the next one, never before.
        self.assertGreaterEqual(started, due)
        self.assertLessEqual(started, due + 1)

    def attempts(self, fax_id):
        c = self.faxd.db()
        try:
            rows = c.execute("SELECT status, pages FROM attempts WHERE fax_id = ? "
                             "ORDER BY started, ended", (fax_id,)).fetchall()
        finally:
            c.close()
        return [(r["status"], r["pages"]) for r in rows]


class T38FlowTest(FaxFlowTest):
    """The same flows with the loopback line carrying T.38 instead of audio."""
    faxd_env = {"FAXD_LINE_LOOPBACK_TRANSPORT": "t38"}
    TRANSPORT_WORD = "T.38"

    test_sandbox_numbers = None
    test_retries_and_resume = None
    test_retry_waits_for_its_delay = None
    test_send_time_is_honoured_within_a_second = None


class RealtimeFlowTest(FaxFlowTest):
    """Once in real time: the same fax code paced at 20 ms per tick, as on a phone line
    (a one-page fax takes about a minute)."""
    faxd_env = {"FAXD_LINE_LOOPBACK_SPEED": "realtime"}
    DOC, DOC_PAGES = "letter_a4.pdf", 1

    test_sandbox_numbers = None
    test_retries_and_resume = None
    test_retry_waits_for_its_delay = None
    test_send_time_is_honoured_within_a_second = None

    def test_send_to_own_number_arrives_with_the_same_pages(self):
        start = time.monotonic()
        super().test_send_to_own_number_arrives_with_the_same_pages()
        # Paced like a real line: T.30 set-up and one page cannot take under ~15 s.
        self.assertGreater(time.monotonic() - start, 15)

    def test_a_fax_being_sent_can_no_longer_change(self):
        acct = self.new_account(number=True)
        tok = acct["token"]
        self.send_doc(acct, [acct["number"]], name=self.DOC)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            recs = self.assertJson(self.req("GET", "/accounts/self/outbox", token=tok),
                                   200, "OutboxList")["records"]
            if recs and recs[0]["status"] == "sending":
                break
            time.sleep(0.2)
        self.assertEqual(recs[0]["status"], "sending")
        oid = recs[0]["id"]
        self.assertError(self.req("PUT", "/accounts/self/outbox/" + oid, token=tok,
                                  body={"comment": "too late"}), 409, "conflict")
        self.assertError(self.req("DELETE", "/accounts/self/outbox/" + oid, token=tok),
                         409, "conflict")
        rec = self.assertJson(self.req("GET", "/accounts/self/outbox/" + oid, token=tok),
                              200, "Outbox")
        self.assertNotEqual(rec["comment"]["text"], "too late")
        fax_id = self.faxd.db().execute("SELECT fax_id FROM outbox_dests WHERE outbox_id = ?",
                                        (oid,)).fetchone()[0]

        # Stopping faxd mid-call hangs up at once (no waiting for the call to end), keeps
        # the fax, and does not charge the interrupted attempt: after the restart it is
        # dialled again and arrives, although the fax allows no retry.
        start = time.monotonic()
        self.faxd.stop()
        self.assertLess(time.monotonic() - start, 10)
        self.faxd.extra_env["FAXD_LINE_LOOPBACK_SPEED"] = "accelerated"
        self.faxd.start()
        fax = self.wait_fax(tok, fax_id)
        self.assertEqual(fax["status"], "success", fax)
        self.assertEqual(fax["max_retry"], 0)
        self.faxd.stop()
        self.faxd.extra_env["FAXD_LINE_LOOPBACK_SPEED"] = "realtime"
        self.faxd.start()


if __name__ == "__main__":
    main()
