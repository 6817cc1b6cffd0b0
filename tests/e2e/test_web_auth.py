"""The web interface's sign-in, sessions and CSRF protection, token management, page
images and static files, against a real faxd.

Sessions are driven by hand here (the Set-Cookie header read, the Cookie header sent),
so every flag the server sets is checked as it is on the wire."""

import os
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from faxd_harness import (FAXCTL_BIN, FaxdTestCase, fixture_bytes, main,  # noqa: E402
                          multipart)

PASSWORD = "correct horse battery"


def cookie_of(r):
    """(value, {attribute: value}) of the faxd_session Set-Cookie header."""
    raw = r.header("Set-Cookie")
    assert raw, "no Set-Cookie in %r" % r
    parts = [p.strip() for p in raw.split(";")]
    name, _, value = parts[0].partition("=")
    assert name == "faxd_session", raw
    attrs = {}
    for p in parts[1:]:
        k, _, v = p.partition("=")
        attrs[k.lower()] = v
    return value, attrs


class WebCase(FaxdTestCase):
    def account_with_password(self, email, **kw):
        acct = self.new_account(email=email, **kw)
        self.faxctl("password", "set", "--account", acct["uid"], "--password", PASSWORD)
        return acct

    def sign_in(self, email, password=PASSWORD):
        return self.req("POST", "/session", body={"email": email, "password": password})

    def session(self, email):
        """Signs in; returns (cookie header, csrf token)."""
        r = self.sign_in(email)
        body = self.assertJson(r, 200)
        value, _ = cookie_of(r)
        return "faxd_session=" + value, body["csrf_token"]

    def with_cookie(self, method, path, cookie, csrf=None, body=None, **kw):
        headers = {"Cookie": cookie}
        if csrf:
            headers["X-CSRF-Token"] = csrf
        return self.req(method, path, body=body, headers=headers, **kw)


class SignInTest(WebCase):
    def test_wrong_password_and_unknown_email_are_refused_alike(self):
        self.account_with_password("wrong@example.com")
        a = self.assertError(self.sign_in("wrong@example.com", "not it"), 401, "unauthorized")
        b = self.assertError(self.sign_in("nobody@example.com"), 401, "unauthorized")
        self.assertEqual(a["description"], b["description"])
        self.assertIsNone(self.sign_in("wrong@example.com", "not it").header("Set-Cookie"))

    def test_sign_in_needs_a_json_body(self):
        self.account_with_password("form@example.com")
        body = '{"email": "form@example.com", "password": "%s", "x": "="}' % PASSWORD
        for ct in (None, "text/plain", "application/x-www-form-urlencoded"):
            with self.subTest(content_type=ct):
                r = self.req("POST", "/session", body=body,
                             headers={"Content-Type": ct} if ct else {})
                self.assertError(r, 400, "invalid_request")
                self.assertIsNone(r.header("Set-Cookie"))
        r = self.req("POST", "/session", body=body,
                     headers={"Content-Type": "application/json; charset=utf-8"})
        self.assertJson(r, 200)

    def test_account_without_password_cannot_sign_in(self):
        self.new_account(email="nopw@example.com")
        self.assertError(self.sign_in("nopw@example.com", ""), 400, "invalid_request")
        self.assertError(self.sign_in("nopw@example.com", "anything"), 401, "unauthorized")

    def test_cookie_flags_and_session_body(self):
        acct = self.account_with_password("flags@example.com")
        r = self.sign_in("FLAGS@Example.com")  # e-mail case is ignored
        body = self.assertJson(r, 200)
        value, attrs = cookie_of(r)
        self.assertRegex(value, r"^[0-9a-f]{64}$")
        self.assertIn("httponly", attrs)
        self.assertEqual(attrs.get("samesite"), "Strict")
        self.assertEqual(attrs.get("path"), "/")
        self.assertEqual(attrs.get("max-age"), "43200")
        self.assertEqual(body["uid"], acct["uid"])
        self.assertRegex(body["csrf_token"], r"^[0-9a-f]{64}$")
        self.assertNotEqual(body["csrf_token"], value)
        # Only the SHA-256 of the session id is stored.
        with self.faxd.db() as db:
            rows = [tuple(x) for x in db.execute("SELECT hash FROM sessions WHERE uid = ?",
                                                 (acct["uid"],))]
        self.assertTrue(rows)
        self.assertNotIn((value,), rows)

    def test_session_reads_and_needs_csrf_to_change(self):
        self.account_with_password("csrf@example.com")
        cookie, csrf = self.session("csrf@example.com")
        me = self.assertJson(self.with_cookie("GET", "/accounts/self", cookie), 200, "Account")
        self.assertEqual(me["email"], "csrf@example.com")
        change = {"name": "Changed"}
        self.assertError(self.with_cookie("PUT", "/accounts/self", cookie, body=change), 403,
                         "forbidden")
        self.assertError(self.with_cookie("PUT", "/accounts/self", cookie, csrf="0" * 64,
                                          body=change), 403, "forbidden")
        self.assertError(self.with_cookie("POST", "/tokens", cookie,
                                          body={"name": "x", "scopes": ["read"]}), 403)
        self.assertEqual(self.assertJson(self.with_cookie("GET", "/accounts/self", cookie))
                         ["name"], "")
        self.assertEmptyOk(self.with_cookie("PUT", "/accounts/self", cookie, csrf=csrf,
                                            body=change))
        self.assertEqual(self.assertJson(self.with_cookie("GET", "/accounts/self", cookie))
                         ["name"], "Changed")
        # GET /session gives the page its CSRF token again.
        s = self.assertJson(self.with_cookie("GET", "/session", cookie))
        self.assertEqual(s["csrf_token"], csrf)

    def test_bearer_requests_need_no_csrf(self):
        acct = self.new_account()
        self.assertEmptyOk(self.req("PUT", "/accounts/self", token=acct["token"],
                                    body={"name": "Bearer"}))

    def test_garbage_cookie_is_unauthorized(self):
        self.assertError(self.with_cookie("GET", "/accounts/self", "faxd_session=" + "a" * 64),
                         401, "unauthorized")

    def test_sign_out_ends_the_session(self):
        self.account_with_password("out@example.com")
        cookie, csrf = self.session("out@example.com")
        self.assertError(self.with_cookie("DELETE", "/session", cookie), 403, "forbidden")
        r = self.with_cookie("DELETE", "/session", cookie, csrf=csrf)
        self.assertEmptyOk(r)
        value, attrs = cookie_of(r)
        self.assertEqual(value, "")
        self.assertEqual(attrs.get("max-age"), "0")
        self.assertError(self.with_cookie("GET", "/accounts/self", cookie), 401, "unauthorized")

    def test_faxctl_password(self):
        acct = self.new_account(email="cli@example.com")
        r = self.faxd.faxctl_raw("password", "set", "--account", acct["uid"], "--password",
                                 "short")
        self.assertEqual(r.returncode, 1, r)
        self.assertIn(b"at least 8", r.stderr)
        self.assertNotEqual(self.faxd.faxctl_raw("password", "set", "--account", "0" * 32,
                                                 "--password", PASSWORD).returncode, 0)
        # From standard input (kept out of the process list), then removed again.
        r = subprocess.run([FAXCTL_BIN, "--json", "password", "set", "--account", acct["uid"]],
                           input=b"from stdin 123\n", env=self.faxd.env(), capture_output=True)
        self.assertEqual(r.returncode, 0, r)
        self.assertJson(self.sign_in("cli@example.com", "from stdin 123"), 200)
        with self.faxd.db() as db:
            stored = db.execute("SELECT password_hash FROM accounts WHERE uid = ?",
                                (acct["uid"],)).fetchone()[0]
        self.assertTrue(stored.startswith("$argon2id$"), stored)
        self.assertNotIn("from stdin", stored)
        r = subprocess.run([FAXCTL_BIN, "--json", "password", "set", "--account", acct["uid"]],
                           input=b"\n", env=self.faxd.env(), capture_output=True)
        self.assertEqual(r.returncode, 0, r)
        self.assertError(self.sign_in("cli@example.com", "from stdin 123"), 401)

    def test_new_password_ends_sessions(self):
        acct = self.account_with_password("newpw@example.com")
        cookie, _ = self.session("newpw@example.com")
        self.faxctl("password", "set", "--account", acct["uid"], "--password", "another one")
        self.assertError(self.with_cookie("GET", "/accounts/self", cookie), 401)
        self.assertError(self.sign_in("newpw@example.com"), 401)
        self.assertJson(self.sign_in("newpw@example.com", "another one"), 200)

    def test_tokens_create_list_revoke(self):
        acct = self.account_with_password("tokens@example.com")
        cookie, csrf = self.session("tokens@example.com")
        made = self.assertJson(self.with_cookie("POST", "/tokens", cookie, csrf=csrf,
                                                body={"name": "script", "scopes": ["read"]}), 201)
        self.assertRegex(made["token"], r"^faxd_[0-9a-f]{64}$")
        self.assertEqual(made["scopes"], ["read"])
        listed = self.assertJson(self.with_cookie("GET", "/tokens", cookie))["tokens"]
        self.assertIn(made["id"], [t["id"] for t in listed])
        self.assertIn(acct["token_id"], [t["id"] for t in listed])
        self.assertNotIn("token", [k for t in listed for k in t])
        # The new token works, with its scope only.
        self.assertJson(self.req("GET", "/accounts/self", token=made["token"]), 200)
        self.assertError(self.req("PUT", "/accounts/self", token=made["token"], body={}), 403,
                         "insufficient_scope")
        self.assertEmptyOk(self.with_cookie("DELETE", "/tokens/" + made["id"], cookie,
                                            csrf=csrf))
        self.assertError(self.req("GET", "/accounts/self", token=made["token"]), 401)
        listed = self.assertJson(self.with_cookie("GET", "/tokens", cookie))["tokens"]
        self.assertNotIn(made["id"], [t["id"] for t in listed])
        self.assertError(self.with_cookie("DELETE", "/tokens/" + made["id"], cookie,
                                          csrf=csrf), 404)
        self.assertError(self.with_cookie("POST", "/tokens", cookie, csrf=csrf,
                                          body={"name": "x", "scopes": ["admin"]}), 400)

    def test_one_account_never_sees_another(self):
        a = self.account_with_password("alice@example.com")
        b = self.account_with_password("bob@example.com", number=True)
        fax = self.faxd.import_fax(b["uid"])
        cookie, csrf = self.session("alice@example.com")
        self.assertError(self.with_cookie("GET", "/accounts/self/faxes/" + fax["id"], cookie),
                         404)
        self.assertError(self.with_cookie("GET", "/accounts/%s/faxes" % b["uid"], cookie), 403)
        self.assertError(self.with_cookie("GET", "/accounts/self/pages/" + fax["id"], cookie),
                         404)
        self.assertError(self.with_cookie("GET", "/accounts/self/files/" + fax["id"], cookie),
                         404)
        faxes = self.assertJson(self.with_cookie("GET", "/accounts/self/faxes", cookie))
        self.assertEqual(faxes["data"]["records"], [])
        self.assertError(self.with_cookie("DELETE", "/tokens/" + b["token_id"], cookie,
                                          csrf=csrf), 404)
        self.assertJson(self.req("GET", "/accounts/self", token=b["token"]), 200)
        ids = [t["id"] for t in self.assertJson(self.with_cookie("GET", "/tokens", cookie))
               ["tokens"]]
        self.assertEqual(ids, [a["token_id"]])

    def test_send_from_a_session(self):
        acct = self.account_with_password("sender@example.com", number=True)
        cookie, csrf = self.session("sender@example.com")
        body, ct = multipart([("fax_file", "doc.pdf", "application/pdf",
                               fixture_bytes("letter_a4.pdf"))])
        r = self.with_cookie("POST", "/accounts/self/files", cookie, body=body)
        self.assertError(r, 403, "forbidden")
        r = self.req("POST", "/accounts/self/files", body=body,
                     headers={"Cookie": cookie, "X-CSRF-Token": csrf, "Content-Type": ct})
        path = self.assertJson(r, 200, "FilePath")["path"]
        self.assertJson(self.with_cookie(
            "POST", "/accounts/self/outbox", cookie, csrf=csrf,
            body={"from": acct["number"], "to": ["+12025550199"], "files": [path],
                  "send_time": "2099-01-01 00:00:00 +0000", "return_ids": True}), 201)
        ob = self.assertJson(self.with_cookie("GET", "/accounts/self/outbox", cookie))
        rec = ob["records"]
        self.assertEqual(len(rec), 1, ob)
        self.assertEqual(rec[0]["initiated_from"], {"from_id": acct["uid"], "type": "web"})

    def test_page_images(self):
        acct = self.account_with_password("pages@example.com", number=True)
        fax = self.faxd.import_fax(acct["uid"])
        cookie, _ = self.session("pages@example.com")
        r = self.with_cookie("GET", "/accounts/self/pages/" + fax["id"], cookie,
                             query={"page": 1, "width": 120})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.ctype, "image/png")
        self.assertEqual(r.body[:8], b"\x89PNG\r\n\x1a\n")
        self.assertEqual(struct.unpack(">I", r.body[16:20])[0], 120)
        # Rendered once per page and width, then served from the node's cache: the same
        # bytes again, one cached file, removed with the fax.
        cache = os.path.join(self.faxd.data_dir, "blobs", "cache", "derived")
        cached = [os.path.join(d, f) for d, _, fs in os.walk(cache) for f in fs]
        self.assertEqual(len(cached), 1, cached)
        self.assertTrue(cached[0].endswith(".p1-w120.png"), cached)
        again = self.with_cookie("GET", "/accounts/self/pages/" + fax["id"], cookie,
                                 query={"page": 1, "width": 120})
        self.assertEqual(again.body, r.body)
        with open(cached[0], "rb") as f:
            self.assertEqual(f.read(), r.body)
        r = self.with_cookie("GET", "/accounts/self/pages/" + fax["id"], cookie,
                             query={"page": 1, "width": 60})
        self.assertEqual(struct.unpack(">I", r.body[16:20])[0], 60)
        self.assertError(self.with_cookie("GET", "/accounts/self/pages/" + fax["id"], cookie,
                                          query={"page": 99}), 404)
        self.assertEqual(len([f for _, _, fs in os.walk(cache) for f in fs]), 2)
        self.assertStatus(self.req("DELETE", "/accounts/self/faxes/" + fax["id"],
                                   token=acct["token"]), 200)
        self.assertEqual([f for _, _, fs in os.walk(cache) for f in fs], [])
        self.assertError(self.with_cookie("GET", "/accounts/self/pages/" + fax["id"], cookie,
                                          query={"width": 5}), 400)


class LockOutTest(WebCase):
    def test_account_is_locked_after_five_failures(self):
        self.account_with_password("locked@example.com")
        for i in range(4):
            self.assertError(self.sign_in("locked@example.com", "guess %d" % i), 401)
        r = self.sign_in("locked@example.com", "guess 4")
        self.assertError(r, 429, "too_many_requests")
        self.assertEqual(r.header("Retry-After"), "900")
        # Locked: even the right password is refused, and no session is made.
        r = self.sign_in("locked@example.com")
        self.assertError(r, 429)
        self.assertIsNone(r.header("Set-Cookie"))
        # Another account from the same address still signs in.
        self.account_with_password("other@example.com")
        self.assertJson(self.sign_in("other@example.com"), 200)

    def test_success_forgets_earlier_failures(self):
        self.account_with_password("forgive@example.com")
        for _ in range(3):
            self.assertError(self.sign_in("forgive@example.com", "nope"), 401)
        self.assertJson(self.sign_in("forgive@example.com"), 200)
        for _ in range(3):
            self.assertError(self.sign_in("forgive@example.com", "nope"), 401)
        self.assertJson(self.sign_in("forgive@example.com"), 200)


class AddressLockOutTest(WebCase):
    def test_address_is_locked_after_twenty_failures(self):
        self.account_with_password("victim@example.com")
        codes = [self.sign_in("user%d@example.com" % i, "x").status for i in range(20)]
        self.assertEqual(codes, [401] * 19 + [429])
        self.assertError(self.sign_in("victim@example.com"), 429)


class ExpiryTest(WebCase):
    faxd_env = {"FAXD_HTTP_SESSION_TTL": "60"}

    def test_session_expires(self):
        self.account_with_password("expiry@example.com")
        cookie, _ = self.session("expiry@example.com")
        self.assertJson(self.with_cookie("GET", "/accounts/self", cookie), 200)
        # Sessions survive a restart; 61 s later the same cookie is refused.
        self.faxd.restart()
        self.assertJson(self.with_cookie("GET", "/accounts/self", cookie), 200)
        self.faxd.stop()
        self.faxd.extra_env["FAXD_TEST_CLOCK_OFFSET"] = "61"
        self.faxd.start()
        self.assertError(self.with_cookie("GET", "/accounts/self", cookie), 401, "unauthorized")


class StaticFilesTest(FaxdTestCase):
    def test_index_is_served_with_a_strict_policy(self):
        r = self.req("GET", "/", prefix="")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.ctype, "text/html; charset=utf-8")
        csp = r.header("Content-Security-Policy")
        self.assertIn("script-src 'self'", csp)
        self.assertNotIn("unsafe-inline", csp)
        self.assertIn("frame-ancestors 'none'", csp)
        self.assertIn(b"app.js", r.body)
        self.assertNotIn(b"<script>", r.body)  # no inline script
        r = self.req("GET", "/app.js", prefix="")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.ctype, "text/javascript; charset=utf-8")

    def test_no_directory_traversal(self):
        for path in ("/../CMakeLists.txt", "/%2e%2e/CMakeLists.txt", "/..%2fREADME.md",
                     "/.hidden.html", "/x/../../etc/passwd", "//etc/passwd", "/index.html/",
                     "/nope.html", "/README.md"):
            with self.subTest(path=path):
                status, got = self.faxd.raw(("GET %s HTTP/1.1\r\nHost: x\r\n"
                                             "Connection: close\r\n\r\n" % path).encode())
                self.assertEqual(status, 404, got[:300])

    def test_only_get(self):
        self.assertError(self.req("POST", "/", prefix="", body={}), 404, "not_found")


if __name__ == "__main__":
    main()
