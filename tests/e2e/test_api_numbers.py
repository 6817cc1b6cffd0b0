"""Numbers: N1 list, N2 get, N3 assign, N4 revoke."""

import unittest
import urllib.parse

from faxd_harness import HEX32, FaxdTestCase


def enc(number):
    """Percent-encodes a path parameter the way both SDKs do ('+' -> %2B)."""
    return urllib.parse.quote(number, safe="")


class NumbersTest(FaxdTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        f = cls.faxd
        cls.ind = f.new_account("individual", number=True)
        cls.other = f.new_account("individual", number=True)

    def corp(self, members=1, numbers=2):
        """A fresh corporate admin with members and numbers (owned by the admin)."""
        admin = self.new_account("corporate_admin")
        admin["numbers"] = []
        for _ in range(numbers):
            n = self.faxd.next_number()
            out = self.faxctl("number", "add", "--account", admin["uid"], "--number", n)
            self.assertEqual(out["number"], n)
            self.assertEqual(out["owner_id"], admin["uid"])
            self.assertRegex(out["id"], HEX32)
            admin["numbers"].append(n)
        ms = [self.new_account("corporate_member", admin=admin["uid"]) for _ in range(members)]
        return admin, ms

    def numbers_of(self, token, user="self"):
        body = self.assertJson(self.req("GET", "/accounts/%s/numbers" % user, token=token), 200,
                               "NumberList")
        return body["numbers"]

    def get_number(self, token, number, user="self"):
        r = self.req("GET", "/accounts/%s/numbers/%s" % (user, enc(number)), token=token)
        return self.assertJson(r, 200, "Number")

    # ---- N1
    def test_n1_individual(self):
        nums = self.numbers_of(self.ind["token"])
        self.assertEqual(len(nums), 1)
        n = nums[0]
        self.assertEqual(n["number"], self.ind["number"])
        self.assertEqual(n["owner_id"], self.ind["uid"])
        self.assertEqual(n["assigned_to"], [])
        self.assertRegex(n["id"], HEX32)

    def test_n1_own_uid(self):
        self.assertEqual(self.numbers_of(self.ind["token"], self.ind["uid"]),
                         self.numbers_of(self.ind["token"]))

    def test_n1_empty(self):
        a = self.new_account()
        self.assertEqual(self.numbers_of(a["token"]), [])

    def test_n1_admin_and_member(self):
        admin, (m,) = self.corp(1, 3)
        nums = self.numbers_of(admin["token"])
        self.assertEqual(sorted(n["number"] for n in nums), sorted(admin["numbers"]))
        for n in nums:
            self.assertEqual(n["owner_id"], admin["uid"])
        self.assertEqual(self.numbers_of(m["token"]), [])
        self.assertEqual(self.numbers_of(admin["token"], m["uid"]), [])

    def test_n1_other_user_forbidden(self):
        r = self.req("GET", "/accounts/%s/numbers" % self.other["uid"], token=self.ind["token"])
        self.assertError(r, 403, "forbidden")

    # ---- N2
    def test_n2_percent_encoded(self):
        n = self.get_number(self.ind["token"], self.ind["number"])
        self.assertEqual(n["number"], self.ind["number"])
        self.assertEqual(n["owner_id"], self.ind["uid"])
        self.assertEqual(n["assigned_to"], [])
        self.assertEqual(n, self.numbers_of(self.ind["token"])[0])

    def test_n2_literal_plus_is_not_a_space(self):
        r = self.req("GET", "/accounts/self/numbers/" + self.ind["number"],
                     token=self.ind["token"])
        n = self.assertJson(r, 200, "Number")
        self.assertEqual(n["number"], self.ind["number"])

    def test_n2_unknown_and_others(self):
        for num in (self.other["number"], "+19995550000", "abc", "%20"):
            with self.subTest(number=num):
                r = self.req("GET", "/accounts/self/numbers/" + enc(num), token=self.ind["token"])
                self.assertError(r, 404, "not_found")

    # ---- N3 / N4
    def test_n3_assign_and_n4_revoke(self):
        admin, (m1, m2) = self.corp(2, 2)
        num = admin["numbers"][0]
        path = "/accounts/self/numbers/" + enc(num)
        self.assertEmptyOk(self.req("PUT", path, token=admin["token"],
                                    body={"assigned_to": m1["uid"]}))
        n = self.get_number(admin["token"], num)
        self.assertIn(m1["uid"], n["assigned_to"])
        self.assertEqual(n["owner_id"], admin["uid"])
        self.assertEqual([x["number"] for x in self.numbers_of(m1["token"])], [num])
        self.assertEqual([x["number"] for x in self.numbers_of(admin["token"], m1["uid"])],
                         [num])
        self.assertEqual(self.get_number(m1["token"], num)["number"], num)
        self.assertEqual(self.numbers_of(m2["token"]), [])
        # the admin still lists it
        self.assertEqual(sorted(x["number"] for x in self.numbers_of(admin["token"])),
                         sorted(admin["numbers"]))
        # N4: revoke from the member
        r = self.req("DELETE", "/accounts/%s/numbers/%s" % (m1["uid"], enc(num)),
                     token=admin["token"])
        self.assertEmptyOk(r)
        n = self.get_number(admin["token"], num)
        self.assertNotIn(m1["uid"], n["assigned_to"])
        self.assertEqual(self.numbers_of(m1["token"]), [])
        self.assertEqual(sorted(x["number"] for x in self.numbers_of(admin["token"])),
                         sorted(admin["numbers"]))

    def test_n3_assign_to_non_member(self):
        admin, (m,) = self.corp(1, 1)
        other_admin, (foreign,) = self.corp(1, 0)
        num = admin["numbers"][0]
        path = "/accounts/self/numbers/" + enc(num)
        for target in (foreign["uid"], self.ind["uid"], other_admin["uid"], "0" * 32):
            with self.subTest(target=target):
                self.assertError(self.req("PUT", path, token=admin["token"],
                                          body={"assigned_to": target}), 400, "invalid_request")
        for b in ({"assigned_to": 5}, {"assigned_to": [m["uid"]]}, {}):
            with self.subTest(body=b):
                self.assertError(self.req("PUT", path, token=admin["token"], body=b), 400,
                                 "invalid_request")
        self.assertEqual(self.get_number(admin["token"], num)["assigned_to"], [])
        self.assertEqual(self.numbers_of(foreign["token"]), [])

    def test_n4_cannot_remove_from_owner(self):
        admin, _ = self.corp(1, 1)
        num = admin["numbers"][0]
        for tok, user in ((admin["token"], "self"), (admin["token"], admin["uid"]),
                          (self.ind["token"], "self")):
            n = num if tok == admin["token"] else self.ind["number"]
            with self.subTest(user=user):
                r = self.req("DELETE", "/accounts/%s/numbers/%s" % (user, enc(n)), token=tok)
                self.assertError(r, 400, "invalid_request")
        self.assertEqual([x["number"] for x in self.numbers_of(admin["token"])], [num])
        self.assertEqual([x["number"] for x in self.numbers_of(self.ind["token"])],
                         [self.ind["number"]])

    def test_n3_n4_by_member_forbidden(self):
        admin, (m1, m2) = self.corp(2, 1)
        num = admin["numbers"][0]
        self.assertEmptyOk(self.req("PUT", "/accounts/self/numbers/" + enc(num),
                                    token=admin["token"], body={"assigned_to": m1["uid"]}))
        r = self.req("PUT", "/accounts/self/numbers/" + enc(num), token=m1["token"],
                     body={"assigned_to": m2["uid"]})
        self.assertError(r, 403, "forbidden")
        r = self.req("DELETE", "/accounts/self/numbers/" + enc(num), token=m1["token"])
        self.assertError(r, 403, "forbidden")
        n = self.get_number(admin["token"], num)
        self.assertEqual(n["assigned_to"], [m1["uid"]])

    def test_n3_n4_unknown_number(self):
        admin, (m,) = self.corp(1, 0)
        ghost = enc("+19995550001")
        self.assertError(self.req("PUT", "/accounts/self/numbers/" + ghost, token=admin["token"],
                                  body={"assigned_to": m["uid"]}), 404, "not_found")
        self.assertError(self.req("DELETE", "/accounts/%s/numbers/%s" % (m["uid"], ghost),
                                  token=admin["token"]), 404, "not_found")

    def test_n3_other_accounts_number(self):
        admin, (m,) = self.corp(1, 0)
        before = self.get_number(self.other["token"], self.other["number"])
        r = self.req("PUT", "/accounts/self/numbers/" + enc(self.other["number"]),
                     token=admin["token"], body={"assigned_to": m["uid"]})
        self.assertError(r, 404, "not_found")
        r = self.req("DELETE", "/accounts/%s/numbers/%s" % (m["uid"], enc(self.other["number"])),
                     token=admin["token"])
        self.assertError(r, 404, "not_found")
        self.assertEqual(self.get_number(self.other["token"], self.other["number"]), before)
        self.assertEqual(self.numbers_of(m["token"]), [])


if __name__ == "__main__":
    unittest.main()
