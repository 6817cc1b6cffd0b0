"""Auth (401), scopes (403 insufficient_scope), hashed token storage, SDK header habits,
cross-account isolation for every resource type, and the per-token rate limit (429)."""

import time
import unittest
import urllib.parse

from faxd_harness import FaxdTestCase, fixture_bytes

LETTER = fixture_bytes("letter.txt")


def enc(s):
    return urllib.parse.quote(s, safe="")


class AuthTest(FaxdTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.acct = cls.faxd.new_account()

    def test_missing_blank_unknown(self):
        for hdrs in ({}, {"Authorization": "Bearer "}, {"Authorization": "Bearer"},
                     {"Authorization": "Bearer    "}, {"Authorization": ""},
                     {"Authorization": "Bearer not-a-real-token"},
                     {"Authorization": "Bearer " + "0" * 64},
                     {"Authorization": "Basic dXNlcjpwYXNz"},
                     {"Authorization": self.acct["token"]},
                     {"Authorization": "Bearer " + self.acct["token"] + "x"},
                     {"Authorization": "Bearer " + self.acct["token"][:-1]}):
            with self.subTest(headers=hdrs):
                r = self.req("GET", "/accounts/self", headers=hdrs)
                self.assertError(r, 401, "unauthorized")

    def test_401_on_every_operation(self):
        z = "0" * 32
        ops = [("GET", "/accounts"), ("GET", "/accounts/self"), ("PUT", "/accounts/self"),
               ("GET", "/accounts/self/member-details/" + z),
               ("PUT", "/accounts/self/member-details/" + z),
               ("GET", "/accounts/self/numbers"), ("GET", "/accounts/self/numbers/%2B12025550100"),
               ("PUT", "/accounts/self/numbers/%2B12025550100"),
               ("DELETE", "/accounts/self/numbers/%2B12025550100"),
               ("GET", "/accounts/self/faxes"), ("GET", "/accounts/self/faxes/" + z),
               ("PUT", "/accounts/self/faxes/" + z), ("DELETE", "/accounts/self/faxes/" + z),
               ("POST", "/accounts/self/files"), ("GET", "/accounts/self/files/" + z),
               ("GET", "/accounts/self/report/" + z), ("GET", "/accounts/self/outbox"),
               ("POST", "/accounts/self/outbox"), ("GET", "/accounts/self/outbox/" + z),
               ("PUT", "/accounts/self/outbox/" + z), ("DELETE", "/accounts/self/outbox/" + z),
               ("POST", "/hooks"), ("GET", "/hooks?event=fax_sent"), ("DELETE", "/hooks/" + z)]
        for method, path in ops:
            with self.subTest(method=method, path=path):
                body = {} if method in ("PUT", "POST") else None
                self.assertError(self.req(method, path, body=body), 401, "unauthorized")
                self.assertError(self.req(method, path, token="bogus", body=body), 401,
                                 "unauthorized")

    def test_token_only_in_header(self):
        tok = self.acct["token"]
        for q in ({"access_token": tok}, {"token": tok}, {"api_key": tok}):
            with self.subTest(query=list(q)):
                self.assertError(self.req("GET", "/accounts/self", query=q), 401, "unauthorized")
        self.assertError(self.req("GET", "/accounts/self", headers={"Cookie": "token=" + tok}),
                         401, "unauthorized")

    def test_revoked_token(self):
        a = self.new_account()
        t2 = self.faxd.token(a["uid"])
        self.assertJson(self.req("GET", "/accounts/self", token=t2["token"]), 200, "Account")
        out = self.faxctl("token", "revoke", "--id", t2["id"])
        self.assertEqual(out["id"], t2["id"])
        self.assertIs(out["revoked"], True)
        self.assertError(self.req("GET", "/accounts/self", token=t2["token"]), 401,
                         "unauthorized")
        self.assertError(self.req("PUT", "/accounts/self", token=t2["token"], body={"name": "x"}),
                         401, "unauthorized")
        # the account's other token still works
        self.assertJson(self.req("GET", "/accounts/self", token=a["token"]), 200, "Account")

    def test_tokens_stored_hashed(self):
        a = self.new_account()
        extra = self.faxd.token(a["uid"], scope="read")
        secrets = [a["token"], extra["token"]]
        c = self.faxd.db()
        try:
            rows = c.execute("SELECT * FROM tokens").fetchall()
            dump = "\n".join(line for line in c.iterdump())
        finally:
            c.close()
        self.assertGreaterEqual(len(rows), 2)
        for s in secrets:
            for row in rows:
                for v in tuple(row):
                    if isinstance(v, bytes):
                        self.assertNotIn(s.encode(), v)
                    else:
                        self.assertNotIn(s, str(v))
            self.assertNotIn(s, dump)

    def test_scopes(self):
        a = self.new_account(number=True)
        ro = self.faxd.token(a["uid"], scope="read")["token"]
        eo = self.faxd.token(a["uid"], scope="edit")["token"]
        fid = self.faxd.import_fax(a["uid"])["id"]
        # read-only: GET works, POST/PUT/DELETE do not
        self.assertJson(self.req("GET", "/accounts/self", token=ro), 200, "Account")
        self.assertJson(self.req("GET", "/accounts/self/faxes/" + fid, token=ro), 200, "Fax")
        writes = [("PUT", "/accounts/self", {"name": "ro"}),
                  ("PUT", "/accounts/self/faxes/" + fid, {"comment": "ro"}),
                  ("DELETE", "/accounts/self/faxes/" + fid, None),
                  ("POST", "/hooks", {"target": "https://example.com/h", "event": "fax_sent"}),
                  ("POST", "/accounts/self/outbox", {"from": "no_number", "to": ["+12025550100"],
                                                     "files": ["/transient-" + "0" * 32]})]
        for method, path, body in writes:
            with self.subTest(token="read", method=method, path=path):
                self.assertError(self.req(method, path, token=ro, body=body), 403,
                                 "insufficient_scope")
        r = self.faxd.upload(ro, LETTER, "letter.txt")
        self.assertError(r, 403, "insufficient_scope")
        # edit-only: writes work, GET does not
        for path in ("/accounts/self", "/accounts/self/faxes", "/accounts/self/faxes/" + fid,
                     "/accounts/self/outbox", "/hooks?event=fax_sent",
                     "/accounts/self/files/" + fid, "/accounts/self/report/" + fid):
            with self.subTest(token="edit", path=path):
                self.assertError(self.req("GET", path, token=eo), 403, "insufficient_scope")
        self.assertEmptyOk(self.req("PUT", "/accounts/self/faxes/" + fid, token=eo,
                                    body={"comment": "by-edit"}))
        self.assertEmptyOk(self.req("PUT", "/accounts/self", token=eo, body={"name": "E"}))
        # nothing the read-only token tried changed anything
        fx = self.assertJson(self.req("GET", "/accounts/self/faxes/" + fid, token=ro), 200, "Fax")
        self.assertEqual(fx["comment"], "by-edit")
        self.assertEqual(self.assertJson(self.req("GET", "/hooks", token=ro,
                                                  query={"event": "fax_sent"}), 200,
                                         "WebhookList")["data"], [])
        self.assertEqual(self.assertJson(self.req("GET", "/accounts/self", token=ro), 200,
                                         "Account")["name"], "E")

    def test_client_id_header_ignored(self):
        for v in ("some-client-id", "", "x" * 200):
            with self.subTest(value=v):
                r = self.req("GET", "/accounts/self", token=self.acct["token"],
                             headers={"x-fax-clientid": v})
                self.assertJson(r, 200, "Account")
        self.assertError(self.req("GET", "/accounts/self", headers={"x-fax-clientid": "abc"}),
                         401, "unauthorized")

    def test_python_sdk_header_habits(self):
        a = self.new_account()
        sdk = {"Accept": "application/json", "Content-Type": "application/json",
               "User-Agent": "faxplus-sdk/python/3.0.4"}
        r = self.req("GET", "/accounts/self", token=a["token"], headers=sdk)
        self.assertJson(r, 200, "Account")
        r = self.req("GET", "/accounts/self/faxes", token=a["token"], headers=sdk,
                     query={"category": "inbox", "limit": 50})
        self.assertJson(r, 200, "FaxList")
        r = self.req("POST", "/hooks", token=a["token"], headers=sdk,
                     body={"target": "https://example.com/h", "event": "fax_sent"})
        hid = self.assertJson(r, 200, "WebhookId")["id"]
        r = self.req("DELETE", "/hooks/" + hid, token=a["token"], headers=sdk)
        self.assertEmptyOk(r)
        r = self.req("DELETE", "/accounts/self/faxes/" + self.faxd.import_fax(a["uid"])["id"],
                     token=a["token"], headers=dict(sdk, **{"Content-Length": "0"}))
        self.assertEmptyOk(r)

    def test_python_sdk_optional_body_omitted(self):
        # PUT operations whose body is optional: the Python SDK then sends no body at all
        a = self.new_account(name="Same")
        for hdrs in ({"Content-Type": "application/json"},
                     {"Content-Type": "application/json", "Content-Length": "0"}):
            with self.subTest(headers=hdrs):
                r = self.req("PUT", "/accounts/self", token=a["token"], headers=hdrs)
                self.assertEmptyOk(r)
        acct = self.assertJson(self.req("GET", "/accounts/self", token=a["token"]), 200,
                               "Account")
        self.assertEqual(acct["name"], "Same")

    def test_js_sdk_header_habits(self):
        a = self.new_account()
        js = {"Accept": "application/json, text/plain, */*", "User-Agent": "axios/1.6.0"}
        self.assertJson(self.req("GET", "/accounts/self", token=a["token"], headers=js), 200,
                        "Account")
        # JS sends {} when the caller omits an optional body
        self.assertEmptyOk(self.req("PUT", "/accounts/self", token=a["token"], headers=js,
                                    body={}))


class CrossAccountTest(FaxdTestCase):
    """Account B presents A's ids everywhere; nothing of A's may be read or changed."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        f = cls.faxd
        cls.a = f.new_account(number=True)
        cls.b = f.new_account(number=True)
        ta = cls.a["token"]
        cls.fax = f.import_fax(cls.a["uid"], frm="+12025550801", to=cls.a["number"])
        cls.path = f.upload(ta, LETTER, "letter.txt").json()["path"]
        # Scheduled far ahead: once converted, A's outbox record waits unchanged, so the
        # test's before/after snapshots see only what B's requests might have changed.
        r = f.req("POST", "/accounts/self/outbox", token=ta,
                  body={"from": cls.a["number"], "to": ["+12025550802"], "files": [cls.path],
                        "return_ids": True, "comment": {"text": "cross", "tags": []},
                        "send_time": "2030-01-02 03:04:05 +0000"})
        assert r.status == 201, r
        cls.outbox_id = f.req("GET", "/accounts/self/outbox", token=ta).json()["records"][0]["id"]
        deadline = time.monotonic() + 120
        while f.req("GET", "/accounts/self/outbox/" + cls.outbox_id,
                    token=ta).json()["status"] != "scheduled_for_sending":
            assert time.monotonic() < deadline, f.stderr_tail()
            time.sleep(0.2)
        cls.hook = f.req("POST", "/hooks", token=ta, body={"target": "https://a.example.com/",
                                                           "event": "fax_sent"}).json()["id"]

    def snapshot(self):
        ta = self.a["token"]
        get = lambda p, q=None: self.assertJson(self.req("GET", p, token=ta, query=q), 200)  # noqa
        return {
            "account": get("/accounts/self"),
            "numbers": get("/accounts/self/numbers"),
            "fax": get("/accounts/self/faxes/" + self.fax["id"]),
            "faxes": get("/accounts/self/faxes"),
            "outbox": get("/accounts/self/outbox/" + self.outbox_id),
            "hooks": get("/hooks", {"event": "fax_sent"}),
        }

    def test_cross_account(self):
        before = self.snapshot()
        tb, ua = self.b["token"], self.a["uid"]
        n = enc(self.a["number"])
        fid, oid = self.fax["id"], self.outbox_id
        cases = [
            # (method, path, body, expected statuses)
            ("GET", "/accounts/" + ua, None, (403,)),
            ("PUT", "/accounts/" + ua, {"name": "pwned"}, (403,)),
            ("GET", "/accounts/self/member-details/" + ua, None, (403,)),
            ("GET", "/accounts/%s/numbers" % ua, None, (403,)),
            ("GET", "/accounts/self/numbers/" + n, None, (404,)),
            ("GET", "/accounts/%s/numbers/%s" % (ua, n), None, (403,)),
            ("PUT", "/accounts/self/numbers/" + n, {"assigned_to": self.b["uid"]}, (403, 404)),
            ("DELETE", "/accounts/self/numbers/" + n, None, (403, 404)),
            ("DELETE", "/accounts/%s/numbers/%s" % (ua, n), None, (403,)),
            ("GET", "/accounts/%s/faxes" % ua, None, (403,)),
            ("GET", "/accounts/self/faxes/" + fid, None, (404,)),
            ("GET", "/accounts/%s/faxes/%s" % (ua, fid), None, (403,)),
            ("PUT", "/accounts/self/faxes/" + fid, {"comment": "pwned", "is_read": True}, (404,)),
            ("DELETE", "/accounts/self/faxes/" + fid, None, (404,)),
            ("DELETE", "/accounts/%s/faxes/%s" % (ua, fid), None, (403,)),
            ("GET", "/accounts/self/files/%s?format=tiff" % fid, None, (404,)),
            ("GET", "/accounts/self/files/%s?format=tiff" % self.fax["file"], None, (404,)),
            ("GET", "/accounts/self/files/%s?format=pdf" % fid, None, (404,)),
            ("GET", "/accounts/%s/files/%s?format=tiff" % (ua, fid), None, (403,)),
            ("GET", "/accounts/self/report/" + fid, None, (404,)),
            ("GET", "/accounts/%s/report/%s" % (ua, fid), None, (403,)),
            ("GET", "/accounts/self/outbox/" + oid, None, (404,)),
            ("PUT", "/accounts/self/outbox/" + oid, {"comment": "pwned"}, (404,)),
            ("DELETE", "/accounts/self/outbox/" + oid, None, (404,)),
            ("GET", "/accounts/%s/outbox" % ua, None, (403,)),
            ("GET", "/accounts/%s/outbox/%s" % (ua, oid), None, (403,)),
            ("DELETE", "/accounts/%s/outbox/%s" % (ua, oid), None, (403,)),
            ("POST", "/accounts/%s/outbox" % ua, {"from": "no_number", "to": ["+12025550803"],
                                                   "files": [self.path]}, (403,)),
            ("POST", "/accounts/self/outbox", {"from": "no_number", "to": ["+12025550803"],
                                                "files": [self.path]}, (400,)),
            ("POST", "/accounts/self/outbox", {"from": self.a["number"], "to": ["+12025550803"],
                                                "files": [self.path]}, (400,)),
            ("DELETE", "/hooks/" + self.hook, None, (404,)),
            ("GET", "/accounts", None, (403,)),
        ]
        for method, path, body, statuses in cases:
            with self.subTest(method=method, path=path):
                r = self.req(method, path, token=tb, body=body)
                self.assertError(r, statuses)
                self.assertNotIn(self.fax["file"].encode(), r.body)
        r = self.faxd.upload(tb, LETTER, "x.txt", user=ua)
        self.assertError(r, 403, "forbidden")
        # B sees none of A's things in its own lists
        self.assertEqual(self.assertJson(self.req("GET", "/accounts/self/faxes", token=tb),
                                         200, "FaxList")["data"]["records"], [])
        self.assertEqual(self.assertJson(self.req("GET", "/accounts/self/outbox", token=tb),
                                         200, "OutboxList")["records"], [])
        self.assertEqual(self.assertJson(self.req("GET", "/hooks", token=tb,
                                                  query={"event": "fax_sent"}), 200,
                                         "WebhookList")["data"], [])
        self.assertEqual([x["number"] for x in self.assertJson(
            self.req("GET", "/accounts/self/numbers", token=tb), 200, "NumberList")["numbers"]],
            [self.b["number"]])
        # and nothing of A's changed
        self.assertEqual(self.snapshot(), before)


class RateLimitTest(FaxdTestCase):
    faxd_env = {"FAXD_HTTP_RATE_LIMIT": "5"}

    def test_burst_gets_429(self):
        a, b = self.new_account(), self.new_account()
        statuses = []
        for _ in range(50):
            r = self.req("GET", "/accounts/self", token=a["token"])
            statuses.append(r.status)
            if r.status == 429:
                self.assertError(r, 429, "too_many_requests")
            else:
                self.assertJson(r, 200, "Account")
        self.assertIn(429, statuses)
        self.assertEqual(statuses[0], 200)
        self.assertGreaterEqual(statuses.count(200), 5, statuses)
        self.assertGreaterEqual(statuses.count(429), 10, statuses)
        # the limit is per token: another token is served at once
        self.assertJson(self.req("GET", "/accounts/self", token=b["token"]), 200, "Account")
        # and the first token recovers
        time.sleep(2.5)
        self.assertJson(self.req("GET", "/accounts/self", token=a["token"]), 200, "Account")


if __name__ == "__main__":
    unittest.main()
