"""Bad input of every kind: malformed JSON, wrong types, oversized bodies and headers,
invalid UTF-8, unknown routes and methods, odd paths. After each, faxd still serves."""

import unittest

from faxd_harness import FaxdTestCase

MAX_BODY = 8192


class ErrorsTest(FaxdTestCase):
    faxd_env = {"FAXD_HTTP_MAX_BODY_BYTES": str(MAX_BODY)}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.acct = cls.faxd.new_account(number=True)
        cls.fax = cls.faxd.import_fax(cls.acct["uid"])

    def setUp(self):
        self.tok = self.acct["token"]

    def tearDown(self):
        self.assertAlive(self.tok)

    def raw_json(self, method, path, data):
        return self.req(method, path, token=self.tok, body=data,
                        headers={"Content-Type": "application/json"})

    # ---- JSON bodies
    def test_malformed_json(self):
        bodies = [b'{"name": ', b"{", b"not json", b'{"name": "x",}', b"{'name': 'x'}",
                  b'{"name": "x"} trailing', b"\x00\x01", b'{"name": "x"',
                  b'{"a":' * 1500]
        targets = [("PUT", "/accounts/self"), ("POST", "/hooks"),
                   ("POST", "/accounts/self/outbox"), ("PUT", "/accounts/self/faxes/" +
                                                      self.fax["id"])]
        for method, path in targets:
            for b in bodies:
                with self.subTest(path=path, body=b[:30]):
                    self.assertError(self.raw_json(method, path, b), 400, "invalid_json")

    def test_body_not_an_object(self):
        for b in (b"[1, 2]", b'"str"', b"5", b"null", b"true", b"[]"):
            for method, path in (("PUT", "/accounts/self"), ("POST", "/hooks"),
                                 ("POST", "/accounts/self/outbox")):
                with self.subTest(path=path, body=b):
                    self.assertError(self.raw_json(method, path, b), 400, "invalid_json")

    def test_invalid_utf8_in_string(self):
        before = self.assertJson(self.req("GET", "/accounts/self", token=self.tok), 200,
                                 "Account")
        for b in (b'{"name": "\xff\xfe"}', b'{"name": "ab\xc3"}', b'{"name": "\xed\xa0\x80"}',
                  b'{"name": "\xc0\xaf"}', b'{"\xff": 1}'):
            with self.subTest(body=b):
                self.assertError(self.raw_json("PUT", "/accounts/self", b), 400, "invalid_json")
        after = self.assertJson(self.req("GET", "/accounts/self", token=self.tok), 200, "Account")
        self.assertEqual(before, after)

    def test_body_over_cap(self):
        big = {"name": "x" * (MAX_BODY + 10)}
        self.assertError(self.req("PUT", "/accounts/self", token=self.tok, body=big), 413,
                         "payload_too_large")
        self.assertError(self.req("POST", "/hooks", token=self.tok,
                                  body={"target": "https://example.com/" + "a" * 100000,
                                        "event": "fax_sent"}), 413, "payload_too_large")
        # a body just under the cap is fine (padded with JSON whitespace)
        ok = b'{"name": "ok"' + b" " * (MAX_BODY - 100) + b"}"
        self.assertLessEqual(len(ok), MAX_BODY)
        self.assertEmptyOk(self.raw_json("PUT", "/accounts/self", ok))
        got = self.assertJson(self.req("GET", "/accounts/self", token=self.tok), 200, "Account")
        self.assertEqual(got["name"], "ok")

    def test_body_over_cap_chunked(self):
        chunk = b'{"name": "' + b"x" * (MAX_BODY * 2) + b'"}'
        data = (("PUT /v3/accounts/self HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                 "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
                 "Connection: close\r\n\r\n" % self.tok).encode() +
                b"%x\r\n" % len(chunk) + chunk + b"\r\n0\r\n\r\n")
        status, got = self.faxd.raw(data)
        self.assertTrue(status is None or status == 413, got[:300])

    def test_content_length_lies(self):
        data = (("PUT /v3/accounts/self HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                 "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"name\": \"x\"}"
                 % self.tok).encode())
        # the body never completes: faxd may answer 4xx, close, or wait for the rest
        # (then we give up after 2 s and hang up); it must keep serving afterwards
        status, got = self.faxd.raw(data, timeout=2)
        self.assertTrue(status is None or 400 <= status < 500, got[:300])
        status, got = self.faxd.raw(("PUT /v3/accounts/self HTTP/1.1\r\nHost: x\r\n"
                                     "Content-Length: -5\r\n\r\n").encode())
        self.assertTrue(status is None or 400 <= status < 500, got[:300])

    def test_wrong_types_everywhere(self):
        cases = [
            ("PUT", "/accounts/self", {"name": 1}),
            ("PUT", "/accounts/self", {"settings": []}),
            ("PUT", "/accounts/self/faxes/" + self.fax["id"], {"is_read": "true"}),
            ("POST", "/hooks", {"target": ["https://example.com"], "event": "fax_sent"}),
            ("POST", "/accounts/self/outbox", {"from": "no_number", "to": "+12025550100",
                                                "files": []}),
        ]
        for method, path, body in cases:
            with self.subTest(path=path, body=body):
                self.assertStatus(self.req(method, path, token=self.tok, body=body), 400)

    # ---- headers and request line
    def test_huge_header(self):
        data = ("GET /v3/accounts/self HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                "X-Big: %s\r\nConnection: close\r\n\r\n" % (self.tok, "a" * 100000)).encode()
        status, got = self.faxd.raw(data)
        self.assertTrue(status is None or 400 <= status < 500, got[:300])

    def test_many_headers(self):
        hdrs = "".join("X-H%d: %s\r\n" % (i, "v" * 50) for i in range(3000))
        data = ("GET /v3/accounts/self HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n%s"
                "Connection: close\r\n\r\n" % (self.tok, hdrs)).encode()
        status, got = self.faxd.raw(data)
        self.assertTrue(status is None or 400 <= status < 500, got[:300])

    def test_huge_url(self):
        data = ("GET /v3/accounts/self/faxes/%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s"
                "\r\nConnection: close\r\n\r\n" % ("a" * 100000, self.tok)).encode()
        status, got = self.faxd.raw(data)
        self.assertTrue(status is None or 400 <= status < 500, got[:300])

    def test_garbage_request(self):
        for data in (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 100,
                     b"HELLO\r\n\r\n", b"GET\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n",
                     b"BREW /v3/accounts/self HTTP/1.1\r\nHost: x\r\n\r\n"):
            with self.subTest(data=data[:20]):
                # a TLS hello has no line end: faxd may wait for one; we hang up after 2 s
                status, got = self.faxd.raw(data, timeout=2)
                self.assertTrue(status is None or 400 <= status < 600, got[:300])
                self.assertNotEqual(status, 200)

    # ---- routes and methods
    def test_unknown_routes(self):
        for path in ("/nope", "/accounts/self/bogus", "/accounts/self/numbers/%2B1/x/y",
                     "/accounts/self/faxes/" + self.fax["id"] + "/extra", "/hooks/x/y"):
            with self.subTest(path=path):
                self.assertError(self.req("GET", path, token=self.tok), 404, "not_found")
        for path in ("/v2/accounts/self", "/accounts/self"):
            with self.subTest(path=path):
                self.assertError(self.req("GET", path, token=self.tok, prefix=""), 404,
                                 "not_found")

    def test_method_not_allowed(self):
        cases = [("DELETE", "/accounts/self"), ("POST", "/accounts/self"), ("PATCH",
                 "/accounts/self"), ("DELETE", "/accounts"), ("POST", "/accounts/self/numbers"),
                 ("POST", "/accounts/self/faxes"), ("PUT", "/accounts/self/files"),
                 ("DELETE", "/accounts/self/outbox"), ("PUT", "/hooks"),
                 ("GET", "/hooks/" + "0" * 32), ("POST", "/accounts/self/report/" + "0" * 32)]
        for method, path in cases:
            with self.subTest(method=method, path=path):
                self.assertError(self.req(method, path, token=self.tok), 405,
                                 "method_not_allowed")

    def test_unknown_query_values(self):
        cases = [("/accounts/self/faxes", {"category": "everything"}),
                 ("/accounts/self/faxes", {"limit": "many"}),
                 ("/accounts/self/faxes", {"after": "now"}),
                 ("/accounts/self/files/" + self.fax["id"], {"format": "docx"}),
                 ("/hooks", {"event": "fax_page_received"})]
        for path, q in cases:
            with self.subTest(path=path, query=q):
                self.assertError(self.req("GET", path, token=self.tok, query=q), 400,
                                 "invalid_request")

    def test_odd_paths(self):
        for path in ("/accounts/self/files/../../../../etc/passwd",
                     "/accounts/self/files/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
                     "/accounts/self/faxes/%00", "/accounts/self/faxes/'%20OR%201=1--",
                     "/accounts/self/outbox/%25", "/accounts/%2e%2e/numbers",
                     "/accounts/self/report/..%2f..%2f..%2fetc%2fpasswd"):
            with self.subTest(path=path):
                r = self.req("GET", path, token=self.tok)
                self.assertTrue(400 <= r.status < 500, repr(r))
                self.assertNotIn(b"root:", r.body)
                self.assertTrue(r.ctype.startswith("application/json"), repr(r))

    def test_openapi_served(self):
        r = self.req("GET", "/openapi.json", token=self.tok)
        self.assertStatus(r, 200)
        self.assertTrue(r.ctype.startswith("application/json"), repr(r))
        doc = r.json()
        self.assertIsInstance(doc, dict)


if __name__ == "__main__":
    unittest.main()
