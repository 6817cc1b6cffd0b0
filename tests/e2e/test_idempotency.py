"""Idempotency-Key on POST …/outbox and POST …/files: a repeat with the same key and body
answers as the first time and creates nothing; the same key with another body is 409."""

from faxd_harness import FaxdTestCase, fixture_bytes, main


class IdempotencyTest(FaxdTestCase):

    def count(self, sql, *args):
        c = self.faxd.db()
        try:
            return c.execute(sql, args).fetchone()[0]
        finally:
            c.close()

    def _upload_with_key(self, tok, data, name, key):
        from faxd_harness import multipart
        body, ctype = multipart([("fax_file", name, "application/pdf", data)])
        return self.req("POST", "/accounts/self/files", token=tok, body=body,
                        headers={"Content-Type": ctype, "Idempotency-Key": key})

    def test_send_is_not_repeated(self):
        acct = self.new_account()
        tok = acct["token"]
        path = self.upload_ok(tok, fixture_bytes("letter_a4.pdf"), "letter_a4.pdf")
        body = {"from": "no_number", "to": ["+12025550100", "bogus"], "files": [path],
                "return_ids": True, "send_time": "2031-01-01 00:00:00 +0000"}
        h = {"Idempotency-Key": "order-4711"}
        first = self.req("POST", "/accounts/self/outbox", token=tok, body=body, headers=h)
        ids = self.assertJson(first, 201, "SendFaxResponse")["ids"]
        again = self.req("POST", "/accounts/self/outbox", token=tok, body=body, headers=h)
        self.assertEqual(self.assertJson(again, 201, "SendFaxResponse")["ids"], ids)
        self.assertEqual(again.header("Idempotent-Replayed"), "true")
        self.assertEqual(self.count("SELECT COUNT(*) FROM outbox WHERE uid = ?", acct["uid"]), 1)
        self.assertEqual(self.count("SELECT COUNT(*) FROM faxes WHERE owner_id = ?",
                                    acct["uid"]), 1)  # the refused destination, once
        # Same key, another body.
        other = dict(body, to=["+12025550101"])
        self.assertError(self.req("POST", "/accounts/self/outbox", token=tok, body=other,
                                  headers=h), 409, "conflict")
        # Keys belong to an account: another account's identical key is its own.
        b = self.new_account()
        pb = self.upload_ok(b["token"], fixture_bytes("letter_a4.pdf"), "letter_a4.pdf")
        r = self.req("POST", "/accounts/self/outbox", token=b["token"],
                     body=dict(body, files=[pb]), headers=h)
        self.assertNotEqual(self.assertJson(r, 201)["ids"], ids)

    def test_refused_request_does_not_use_up_its_key(self):
        tok = self.new_account()["token"]
        h = {"Idempotency-Key": "retry-me"}
        bad = {"from": "no_number", "to": ["+12025550100"], "files": []}
        self.assertError(self.req("POST", "/accounts/self/outbox", token=tok, body=bad,
                                  headers=h), 400, "invalid_request")
        path = self.upload_ok(tok, fixture_bytes("letter_a4.pdf"), "letter_a4.pdf")
        good = dict(bad, files=[path])
        self.assertJson(self.req("POST", "/accounts/self/outbox", token=tok, body=good,
                                 headers=h), 201)

    def test_upload_is_not_repeated(self):
        acct = self.new_account()
        tok = acct["token"]
        data = fixture_bytes("letter_a4.pdf")
        first = self.assertJson(self._upload_with_key(tok, data, "a.pdf", "up-1"), 200)
        again = self.assertJson(self._upload_with_key(tok, data, "a.pdf", "up-1"), 200)
        self.assertEqual(again["path"], first["path"])
        self.assertEqual(self.count("SELECT COUNT(*) FROM uploads WHERE uid = ?", acct["uid"]), 1)
        r = self._upload_with_key(tok, fixture_bytes("report.pdf"), "a.pdf", "up-1")
        self.assertError(r, 409, "conflict")
        self.assertEqual(self.count("SELECT COUNT(*) FROM uploads WHERE uid = ?", acct["uid"]), 1)

    def test_bad_keys(self):
        tok = self.new_account()["token"]
        path = self.upload_ok(tok, fixture_bytes("letter_a4.pdf"), "letter_a4.pdf")
        body = {"from": "no_number", "to": ["+12025550100"], "files": [path]}
        for key in ("x" * 256, "has space"):
            with self.subTest(key=key[:10]):
                r = self.req("POST", "/accounts/self/outbox", token=tok, body=body,
                             headers={"Idempotency-Key": key})
                self.assertError(r, 400, "invalid_request")
        self.assertAlive(tok)


if __name__ == "__main__":
    main()
