"""HTTP-level behaviour the SDKs rely on: keep-alive connections (urllib3 and axios reuse
them) stay in sync after errors, an unread request body is never parsed as the next
request, and JSON strings round-trip exactly (non-BMP characters, NUL)."""

import http.client
import json
import unittest

from faxd_harness import JSON_CT, FaxdTestCase, validate

MAX_BODY = 8192


class KeepAliveTest(FaxdTestCase):
    faxd_env = {"FAXD_HTTP_MAX_BODY_BYTES": str(MAX_BODY)}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.acct = cls.faxd.new_account()

    def conn(self):
        return http.client.HTTPConnection("127.0.0.1", self.faxd.port, timeout=10)

    def exchange(self, c, method, path, body=None, token=None, headers=None):
        h = {"Authorization": "Bearer " + (token or self.acct["token"])}
        if isinstance(body, dict):
            body = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        return r.status, r.getheader("Content-Type", ""), data, r.getheader("Connection", "")

    def test_sequence_on_one_connection(self):
        c = self.conn()
        try:
            seq = [("GET", "/v3/accounts/self", None, 200),
                   ("GET", "/v3/nope", None, 404),
                   ("PUT", "/v3/accounts/self", b"{bad json", 400),
                   ("GET", "/v3/accounts/self/faxes?limit=0", None, 400),
                   ("DELETE", "/v3/accounts/self", None, 405),
                   ("PUT", "/v3/accounts/self", {"name": "ka"}, 200),
                   ("GET", "/v3/accounts/self", None, 200)]
            for method, path, body, want in seq:
                with self.subTest(method=method, path=path):
                    hdrs = {"Content-Type": "application/json"} if isinstance(body, bytes) else {}
                    status, ctype, data, _ = self.exchange(c, method, path, body, headers=hdrs)
                    self.assertEqual(status, want, data[:300])
                    self.assertTrue(ctype.startswith("application/json"), ctype)
            acct = json.loads(data)
            validate("Account", acct)
            self.assertEqual(acct["name"], "ka")
        finally:
            c.close()

    def test_unread_body_is_not_a_request(self):
        smuggled = (b"GET /v3/accounts/self HTTP/1.1\r\nHost: x\r\n\r\n"
                    b"GET /v3/accounts/self HTTP/1.1\r\nHost: x\r\n\r\n")
        cases = [
            ("bogus-token", "/v3/hooks", 401),                      # rejected before the body
            (None, "/v3/accounts/self/faxes", 405),                   # wrong method
            (None, "/v3/does-not-exist", 404),                        # unknown route
        ]
        for token, path, want in cases:
            with self.subTest(path=path, want=want):
                c = self.conn()
                try:
                    status, _, data, conn_hdr = self.exchange(
                        c, "POST", path, smuggled, token=token,
                        headers={"Content-Type": "application/json"})
                    self.assertEqual(status, want, data[:300])
                    # the next request on the connection gets its own answer
                    # (http.client reopens the connection when faxd said "close")
                    try:
                        status, _, data, _ = self.exchange(c, "GET", "/v3/unique-404-probe")
                    except (http.client.RemoteDisconnected, ConnectionResetError,
                            BrokenPipeError) as e:
                        self.fail("faxd closed the connection without Connection: close"
                                  " (header was %r): %r" % (conn_hdr, e))
                    self.assertEqual(status, 404, data[:300])
                    self.assertEqual(json.loads(data)["error"], "not_found")
                finally:
                    c.close()

    def test_oversized_body_then_next_request(self):
        c = self.conn()
        try:
            big = json.dumps({"name": "x" * (MAX_BODY * 4)}).encode()
            try:
                status, _, data, conn_hdr = self.exchange(
                    c, "PUT", "/v3/accounts/self", big,
                    headers={"Content-Type": "application/json"})
                self.assertEqual(status, 413, data[:300])
            except (ConnectionResetError, BrokenPipeError):
                c.close()  # closing instead of answering is allowed for a body this large
                conn_hdr = "close"
            try:
                status, ctype, data, _ = self.exchange(c, "GET", "/v3/accounts/self")
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as e:
                self.fail("faxd closed the connection without Connection: close (header was"
                          " %r): %r" % (conn_hdr, e))
            self.assertEqual(status, 200, data[:300])
            self.assertEqual(ctype.replace(" ", "").lower(), JSON_CT.replace(" ", ""))
            self.assertNotEqual(json.loads(data)["name"], "x" * (MAX_BODY * 4))
        finally:
            c.close()


class JsonStringsTest(FaxdTestCase):

    def test_non_bmp_round_trip(self):
        a = self.new_account()
        for raw, want in ((b'{"name": "\\ud83d\\ude00 smile"}', "\U0001F600 smile"),
                          ('{"name": "\U0001F600 raw"}'.encode("utf-8"), "\U0001F600 raw"),
                          ('{"name": "\u00e9\u00df\u20ac"}'.encode("utf-8"), "\u00e9\u00df\u20ac")):
            with self.subTest(body=raw):
                r = self.req("PUT", "/accounts/self", token=a["token"], body=raw,
                             headers={"Content-Type": "application/json"})
                self.assertEmptyOk(r)
                got = self.assertJson(self.req("GET", "/accounts/self", token=a["token"]), 200,
                                      "Account")
                self.assertEqual(got["name"], want)

    def test_lone_surrogate_refused(self):
        a = self.new_account(name="Keep")
        r = self.req("PUT", "/accounts/self", token=a["token"], body=b'{"name": "\\ud800x"}',
                     headers={"Content-Type": "application/json"})
        self.assertError(r, 400)
        got = self.assertJson(self.req("GET", "/accounts/self", token=a["token"]), 200, "Account")
        self.assertEqual(got["name"], "Keep")

    def test_nul_in_string_not_truncated(self):
        a = self.new_account(name="Keep")
        r = self.req("PUT", "/accounts/self", token=a["token"], body=b'{"name": "a\\u0000b"}',
                     headers={"Content-Type": "application/json"})
        got = self.assertJson(self.req("GET", "/accounts/self", token=a["token"]), 200, "Account")
        if r.status == 200:
            self.assertEqual(got["name"], "a\x00b")  # stored whole, never cut at the NUL
        else:
            self.assertError(r, 400)
            self.assertEqual(got["name"], "Keep")


if __name__ == "__main__":
    unittest.main()
