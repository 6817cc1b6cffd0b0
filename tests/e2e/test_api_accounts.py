"""Accounts: A1 list members, A2 get, A3 update, A4/A5 member details; faxctl demo."""

import unittest

from faxd_harness import HEX32, FaxdTestCase, validate


class AccountsTest(FaxdTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        f = cls.faxd
        cls.ind = f.new_account("individual", email="solo@example.com", name="Solo")
        cls.admin = f.new_account("corporate_admin", email="boss@example.com")
        cls.m1 = f.new_account("corporate_member", admin=cls.admin["uid"])
        cls.m2 = f.new_account("corporate_member", admin=cls.admin["uid"])
        cls.admin2 = f.new_account("corporate_admin")
        cls.m3 = f.new_account("corporate_member", admin=cls.admin2["uid"])
        cls.lonely_admin = f.new_account("corporate_admin")

    # ---- faxctl output shapes
    def test_faxctl_account_and_token_shapes(self):
        a = self.faxctl("account", "create", "--type", "individual")
        self.assertRegex(a["uid"], HEX32)
        self.assertEqual(a["account_type"], "individual")
        t = self.faxctl("token", "create", "--account", a["uid"])
        self.assertRegex(t["id"], r"^[0-9a-f]+$")
        self.assertIsInstance(t["token"], str)
        self.assertGreaterEqual(len(t["token"]), 16)
        self.assertEqual(t["uid"], a["uid"])
        self.assertEqual(sorted(t["scopes"]), ["edit", "read"])
        t2 = self.faxctl("token", "create", "--account", a["uid"], "--scope", "read",
                         "--name", "ro")
        self.assertEqual(t2["scopes"], ["read"])
        self.assertNotEqual(t["token"], t2["token"])

    def test_faxctl_credit_add(self):
        a = self.new_account()
        out = self.faxctl("credit", "add", "--account", a["uid"], "--pages", "10")
        self.assertEqual(out["uid"], a["uid"])
        self.assertEqual(out["credit"], 10)
        out = self.faxctl("credit", "add", "--account", a["uid"], "--pages", "5")
        self.assertEqual(out["credit"], 15)

    def test_faxctl_refuses_bad_input(self):
        n = self.faxd.next_number()
        self.faxctl("number", "add", "--account", self.ind["uid"], "--number", n)
        bad = [
            ("account", "create", "--type", "bogus"),
            ("token", "create", "--account", "0" * 32),
            ("token", "create", "--account", self.ind["uid"], "--scope", "admin"),
            ("token", "revoke", "--id", "0" * 32),
            ("number", "add", "--account", self.ind["uid"], "--number", "abc"),
            ("number", "add", "--account", self.admin["uid"], "--number", n),  # taken
            ("number", "add", "--account", "0" * 32, "--number", self.faxd.next_number()),
            ("credit", "add", "--account", "0" * 32, "--pages", "1"),
            ("account", "create", "--type", "corporate_member", "--admin", self.ind["uid"]),
        ]
        for args in bad:
            with self.subTest(args=args):
                r = self.faxd.faxctl_raw(*args)
                self.assertNotEqual(r.returncode, 0, r.stdout)
        nums = self.assertJson(self.req("GET", "/accounts/self/numbers",
                                        token=self.admin["token"]), 200, "NumberList")
        self.assertNotIn(n, [x["number"] for x in nums["numbers"]])

    # ---- A2
    def test_a2_self_shape(self):
        r = self.req("GET", "/accounts/self", token=self.ind["token"])
        acct = self.assertJson(r, 200, "Account")
        self.assertEqual(acct["uid"], self.ind["uid"])
        self.assertRegex(acct["uid"], HEX32)
        self.assertEqual(acct["account_type"], "individual")
        self.assertEqual(acct["email"], "solo@example.com")
        self.assertEqual(acct["name"], "Solo")

    def test_a2_own_uid_equals_self(self):
        a = self.assertJson(self.req("GET", "/accounts/self", token=self.m1["token"]), 200,
                            "Account")
        b = self.assertJson(self.req("GET", "/accounts/" + self.m1["uid"],
                                     token=self.m1["token"]), 200, "Account")
        self.assertEqual(a, b)
        self.assertEqual(a["account_type"], "corporate_member")

    def test_a2_admin_reads_member(self):
        r = self.req("GET", "/accounts/" + self.m1["uid"], token=self.admin["token"])
        acct = self.assertJson(r, 200, "Account")
        self.assertEqual(acct["uid"], self.m1["uid"])
        self.assertEqual(acct["account_type"], "corporate_member")

    def test_a2_forbidden_uids(self):
        cases = [
            (self.admin, self.m3),      # another admin's member
            (self.admin, self.admin2),  # another admin
            (self.admin, self.ind),
            (self.m1, self.admin),      # member -> its admin
            (self.m1, self.m2),         # member -> fellow member
            (self.ind, self.m1),
        ]
        for who, target in cases:
            with self.subTest(who=who["uid"], target=target["uid"]):
                r = self.req("GET", "/accounts/" + target["uid"], token=who["token"])
                self.assertError(r, 403, "forbidden")

    def test_a2_unknown_uid_forbidden(self):
        r = self.req("GET", "/accounts/" + "0" * 32, token=self.ind["token"])
        self.assertError(r, 403, "forbidden")

    # ---- A1
    def test_a1_admin_lists_members(self):
        r = self.req("GET", "/accounts", token=self.admin["token"])
        body = self.assertJson(r, 200, "AccountList")
        self.assertEqual(sorted(m["uid"] for m in body["members"]),
                         sorted([self.m1["uid"], self.m2["uid"]]))
        for m in body["members"]:
            self.assertEqual(m["account_type"], "corporate_member")

    def test_a1_admin_without_members(self):
        r = self.req("GET", "/accounts", token=self.lonely_admin["token"])
        body = self.assertJson(r, 200, "AccountList")
        self.assertEqual(body, {"members": []})

    def test_a1_non_admin_forbidden(self):
        for who in (self.ind, self.m1):
            with self.subTest(who=who["account_type"]):
                self.assertError(self.req("GET", "/accounts", token=who["token"]), 403,
                                 "forbidden")

    # ---- A3
    def test_a3_update_self(self):
        acct = self.new_account()
        tok = acct["token"]
        body = {"name": "X", "lastname": "Y", "email": "a@b.co", "phone": "+12025550199",
                "settings": {"caller_id_name": "Acme"},
                "account_data": {"company_name": "Acme"}}
        self.assertEmptyOk(self.req("PUT", "/accounts/self", token=tok, body=body))
        got = self.assertJson(self.req("GET", "/accounts/self", token=tok), 200, "Account")
        self.assertEqual(got["name"], "X")
        self.assertEqual(got["lastname"], "Y")
        self.assertEqual(got["email"], "a@b.co")
        self.assertEqual(got["phone"], "+12025550199")
        self.assertEqual(got["settings"]["caller_id_name"], "Acme")
        self.assertEqual(got["account_data"]["company_name"], "Acme")
        self.assertEqual(got["uid"], acct["uid"])
        # a partial update keeps the other fields
        self.assertEmptyOk(self.req("PUT", "/accounts/" + acct["uid"], token=tok,
                                    body={"name": "Z"}))
        got2 = self.assertJson(self.req("GET", "/accounts/self", token=tok), 200, "Account")
        self.assertEqual(got2["name"], "Z")
        self.assertEqual(got2["lastname"], "Y")
        self.assertEqual(got2["email"], "a@b.co")
        self.assertEqual(got2["settings"]["caller_id_name"], "Acme")

    def test_a3_empty_body_object(self):
        acct = self.new_account(name="Keep")
        self.assertEmptyOk(self.req("PUT", "/accounts/self", token=acct["token"], body={}))
        got = self.assertJson(self.req("GET", "/accounts/self", token=acct["token"]), 200,
                              "Account")
        self.assertEqual(got["name"], "Keep")

    def test_a3_bad_values(self):
        acct = self.new_account()
        tok = acct["token"]
        self.assertEmptyOk(self.req("PUT", "/accounts/self", token=tok,
                                    body={"name": "Before", "email": "ok@example.com"}))
        before = self.assertJson(self.req("GET", "/accounts/self", token=tok), 200, "Account")
        bad = [
            {"email": "not-an-email"},
            {"email": "a b@example.com"},
            {"phone": "abc"},
            {"phone": "+123"},
            {"name": 5},
            {"lastname": ["x"]},
            {"email": 7},
            {"settings": "x"},
            {"settings": {"caller_id_name": 3}},
            {"account_data": []},
            {"account_data": {"company_name": False}},
        ]
        for b in bad:
            with self.subTest(body=b):
                r = self.req("PUT", "/accounts/self", token=tok, body=b)
                self.assertError(r, 400, "invalid_request")
        after = self.assertJson(self.req("GET", "/accounts/self", token=tok), 200, "Account")
        self.assertEqual(before, after)

    def test_a3_admin_updates_member(self):
        m = self.new_account("corporate_member", admin=self.admin["uid"])
        self.assertEmptyOk(self.req("PUT", "/accounts/" + m["uid"], token=self.admin["token"],
                                    body={"name": "Renamed"}))
        got = self.assertJson(self.req("GET", "/accounts/self", token=m["token"]), 200,
                              "Account")
        self.assertEqual(got["name"], "Renamed")

    def test_a3_forbidden(self):
        before = self.assertJson(self.req("GET", "/accounts/self", token=self.m3["token"]), 200,
                                 "Account")
        for who, target in ((self.admin, self.m3), (self.m1, self.admin), (self.ind, self.m3),
                            (self.m1, self.m2)):
            with self.subTest(who=who["uid"], target=target["uid"]):
                r = self.req("PUT", "/accounts/" + target["uid"], token=who["token"],
                             body={"name": "Hacked"})
                self.assertError(r, 403, "forbidden")
        after = self.assertJson(self.req("GET", "/accounts/self", token=self.m3["token"]), 200,
                                "Account")
        self.assertEqual(before, after)

    # ---- A4 / A5
    def test_a4_a5_member_details(self):
        m = self.new_account("corporate_member", admin=self.admin["uid"])
        path = "/accounts/self/member-details/" + m["uid"]
        d = self.assertJson(self.req("GET", path, token=self.admin["token"]), 200, "MemberDetail")
        self.assertIsInstance(d, dict)
        self.assertEmptyOk(self.req("PUT", path, token=self.admin["token"],
                                    body={"quota": 100, "role": "billing"}))
        d = self.assertJson(self.req("GET", path, token=self.admin["token"]), 200, "MemberDetail")
        self.assertEqual(d["quota"], 100)
        self.assertEqual(d["role"], "billing")
        self.assertEmptyOk(self.req("PUT", path, token=self.admin["token"], body={"quota": 0}))
        d = self.assertJson(self.req("GET", path, token=self.admin["token"]), 200, "MemberDetail")
        self.assertEqual(d["quota"], 0)
        self.assertEqual(d["role"], "billing")

    def test_a5_bad_values(self):
        m = self.new_account("corporate_member", admin=self.admin["uid"])
        path = "/accounts/self/member-details/" + m["uid"]
        self.assertEmptyOk(self.req("PUT", path, token=self.admin["token"],
                                    body={"quota": 7, "role": "r"}))
        for b in ({"quota": -1}, {"quota": "5"}, {"quota": 1.5}, {"role": 5}, {"quota": True}):
            with self.subTest(body=b):
                self.assertError(self.req("PUT", path, token=self.admin["token"], body=b), 400,
                                 "invalid_request")
        d = self.assertJson(self.req("GET", path, token=self.admin["token"]), 200, "MemberDetail")
        self.assertEqual((d["quota"], d["role"]), (7, "r"))

    def test_a4_a5_not_admin(self):
        path = "/accounts/self/member-details/" + self.m2["uid"]
        for who in (self.m1, self.ind):
            with self.subTest(who=who["account_type"]):
                self.assertError(self.req("GET", path, token=who["token"]), 403, "forbidden")
                self.assertError(self.req("PUT", path, token=who["token"], body={"quota": 1}),
                                 403, "forbidden")

    def test_a4_a5_member_of_someone_else(self):
        for target in (self.m3["uid"], self.ind["uid"], "0" * 32):
            path = "/accounts/self/member-details/" + target
            with self.subTest(target=target):
                self.assertError(self.req("GET", path, token=self.admin["token"]), 404,
                                 "not_found")
                self.assertError(self.req("PUT", path, token=self.admin["token"],
                                          body={"quota": 1}), 404, "not_found")

    # ---- faxctl demo
    def test_faxctl_demo_idempotent(self):
        d1 = self.faxctl("demo")
        d2 = self.faxctl("demo")
        for d in (d1, d2):
            self.assertRegex(d["uid"], HEX32)
            self.assertRegex(d["number"], r"^[+][0-9]{8,}$")
            self.assertTrue(d["base_url"].startswith("http"), d)
            self.assertTrue(d["base_url"].rstrip("/").endswith("/v3"), d)
        self.assertEqual(d1["uid"], d2["uid"])
        self.assertEqual(d1["number"], d2["number"])
        for d in (d1, d2):
            acct = self.assertJson(self.req("GET", "/accounts/self", token=d["token"]), 200,
                                   "Account")
            self.assertEqual(acct["uid"], d1["uid"])
        nums = self.assertJson(self.req("GET", "/accounts/self/numbers", token=d2["token"]), 200,
                               "NumberList")
        self.assertEqual([n["number"] for n in nums["numbers"]], [d1["number"]])
        validate("NumberList", nums)


if __name__ == "__main__":
    unittest.main()
