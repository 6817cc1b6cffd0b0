"""Uploads that no fax uses expire after fax.upload_ttl; uploads named by an outbox
record are kept. Time is moved with FAXD_TEST_CLOCK_OFFSET across a restart (the
housekeeping sweep runs at start-up and every minute)."""


from faxd_harness import Faxd, FaxdTestCase, fixture_bytes, main


def upload_rows(faxd, path):
    c = faxd.db()
    try:
        return c.execute("SELECT * FROM uploads WHERE path = ?", (path,)).fetchall()
    finally:
        c.close()


class UploadExpiryTest(FaxdTestCase):
    faxd_env = {"FAXD_FAX_UPLOAD_TTL": "3600"}

    def test_unused_upload_expires_and_used_one_stays(self):
        acct = self.new_account(number=True)
        tok = acct["token"]
        data = fixture_bytes("letter_a4.pdf")
        unused = self.upload_ok(tok, data)
        used = self.upload_ok(tok, data)
        # Due in 2031: the fax keeps its upload in use (it stays in the outbox).
        self.send_ok(tok, {"from": acct["number"], "to": ["+12025550100"], "files": [used],
                           "send_time": "2031-01-01 00:00:00 +0000"})
        unused_blob = self.faxd.upload_row(unused)["blob"]
        used_blob = self.faxd.upload_row(used)["blob"]
        self.assertTrue(self.faxd.blob_exists(unused_blob))

        # Two hours later: past the TTL.
        self.faxd.stop()
        self.faxd.extra_env["FAXD_TEST_CLOCK_OFFSET"] = "7200"
        self.faxd.start()
        self.assertEqual(upload_rows(self.faxd, unused), [])
        self.assertFalse(self.faxd.blob_exists(unused_blob))
        self.assertEqual(len(upload_rows(self.faxd, used)), 1)
        self.assertTrue(self.faxd.blob_exists(used_blob))
        r = self.send(tok, {"from": acct["number"], "to": ["+12025550100"], "files": [unused]})
        self.assertError(r, 400, "invalid_request")

    def test_fresh_upload_is_kept(self):
        acct = self.new_account()
        path = self.upload_ok(acct["token"], b"hello")
        self.faxd.restart()
        self.assertEqual(len(upload_rows(self.faxd, path)), 1)


if __name__ == "__main__":
    main()
