"""Outbox: O2 send (shape, limits, validation, number normalisation), O1 list, O3 get,
O4 update, O5 cancel."""

import datetime
import unittest
import uuid

from faxd_harness import HEX32, TS_EXACT, FaxdTestCase, fixture_bytes, validate

MAX_BYTES = 100000
LETTER = fixture_bytes("letter.txt")        # 1728 bytes
PDF = fixture_bytes("letter_a4.pdf")        # 47176 bytes


OUTBOX_STATUSES = ("submitted", "converting", "scheduled_for_sending", "sending")
# Fields the converter workers change in the background while a test looks.
VOLATILE = ("status", "status_changes", "last_updated_status_time", "page_count")


def stable(o):
    return {k: v for k, v in o.items() if k not in VOLATILE}


class OutboxTest(FaxdTestCase):
    faxd_env = {"FAXD_FAX_MAX_BYTES": str(MAX_BYTES)}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.acct = cls.faxd.new_account(number=True)
        cls.other = cls.faxd.new_account(number=True)

    def setUp(self):
        self.tok = self.acct["token"]

    def up(self, data=LETTER, name="letter.txt", token=None):
        return self.upload_ok(token or self.tok, data, name)

    def payload(self, **kw):
        p = {"from": "no_number", "to": ["+12025550111"], "files": [self.up()],
             "return_ids": True, "comment": {"text": "t-" + uuid.uuid4().hex, "tags": []}}
        p.update(kw)
        return p

    def outbox(self, token=None):
        body = self.assertJson(self.req("GET", "/accounts/self/outbox", token=token or self.tok),
                               200, "OutboxList")
        return body["records"]

    def find(self, text, token=None):
        recs = [r for r in self.outbox(token) if (r.get("comment") or {}).get("text") == text]
        self.assertEqual(len(recs), 1, "outbox records with comment %r" % text)
        return recs[0]

    def get(self, oid, token=None):
        return self.assertJson(self.req("GET", "/accounts/self/outbox/" + oid,
                                        token=token or self.tok), 200, "Outbox")

    # ---- O2 success
    def test_o2_full_shape_and_o3(self):
        p1, p2 = self.up(), self.up(PDF, "letter_a4.pdf")
        cover = {"name_to": "Bob", "name_from": "Alice", "subject": "Hello",
                 "flags": ["urgent", "confidential"], "message": "See attached"}
        text = "full-" + uuid.uuid4().hex
        p = {"from": self.acct["number"], "to": ["+12025550111", "+12025550112"],
             "files": [p1, p2], "return_ids": True,
             "comment": {"text": text, "tags": ["a", "b"]},
             "options": {"enhancement": True, "retry": {"count": 2, "delay": 15}},
             "send_time": "2030-01-02 03:04:05 +0000", "cover_page": cover}
        body = self.send_ok(self.tok, p)
        self.assertEqual(sorted(body["ids"]), ["+12025550111", "+12025550112"])
        for v in body["ids"].values():
            self.assertRegex(v, HEX32)
        self.assertEqual(len(set(body["ids"].values())), 2)
        rec = self.find(text)
        self.assertRegex(rec["id"], HEX32)
        self.assertNotIn(rec["id"], body["ids"].values())
        o = self.get(rec["id"])
        self.assertEqual(stable(o), stable(rec))
        self.assertEqual(o["uid"], self.acct["uid"])
        self.assertIn(o["status"], OUTBOX_STATUSES)
        self.assertEqual(o["to"], ["+12025550111", "+12025550112"])
        self.assertEqual(o["files"], [p1, p2])
        self.assertEqual(o["src"], self.acct["number"])
        self.assertEqual(o["comment"], {"text": text, "tags": ["a", "b"]})
        self.assertIs(o["options"]["enhancement"], True)
        self.assertEqual(o["options"]["retry"], {"count": 2, "delay": 15})
        self.assertEqual(o["retry"], {"count": 2, "delay": 15})
        self.assertEqual(o["send_time"], "2030-01-02 03:04:05 +0000")
        self.assertRegex(o["submit_time"], r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
        self.assertRegex(o["last_updated_status_time"], TS_EXACT)
        self.assertGreaterEqual(len(o["status_changes"]), 1)
        self.assertEqual(o["status_changes"][0]["status"], "submitted")
        self.assertEqual(o["status_changes"][-1]["status"], o["status"])
        self.assertRegex(o["status_changes"][0]["at"], TS_EXACT)
        self.assertGreaterEqual(len(o["file_changes"]), 1)
        fc = o["file_changes"][0]
        self.assertRegex(fc["at"], TS_EXACT)
        self.assertEqual([(f["file_name"], f["size"]) for f in fc["files"]],
                         [("letter.txt", len(LETTER)), ("letter_a4.pdf", len(PDF))])
        for f in fc["files"]:
            self.assertIsInstance(f["mime_type"], str)
            self.assertTrue(f["mime_type"])
        self.assertIsInstance(o["page_count"], int)
        self.assertEqual(o["ip"], "127.0.0.1")
        self.assertEqual(o["cover_page"], cover)

    def test_o2_minimal_without_return_ids(self):
        text = "min-" + uuid.uuid4().hex
        p = {"from": "no_number", "to": ["+12025550113"], "files": [self.up()],
             "comment": {"text": text, "tags": []}}
        body = self.send_ok(self.tok, p)
        self.assertEqual(body, {})
        o = self.get(self.find(text)["id"])
        self.assertEqual(o["src"], "no_number")
        self.assertNotIn("cover_page", {k for k, v in o.items() if v is not None})
        self.assertIn(o["status"], OUTBOX_STATUSES)
        body = self.send_ok(self.tok, self.payload(return_ids=False))
        self.assertEqual(body, {})

    def test_o2_own_uid_path_and_sdk_defaults(self):
        # what the Python SDK writes by default
        p = self.payload(return_ids=False, options={"enhancement": True})
        self.assertEqual(self.send_ok(self.tok, p, user=self.acct["uid"]), {})

    def test_o2_send_time_zone_keeps_the_instant(self):
        text = "tz-" + uuid.uuid4().hex
        self.send_ok(self.tok, self.payload(send_time="2030-01-02 05:04:05 +0200",
                                            comment={"text": text, "tags": []}))
        st = self.get(self.find(text)["id"])["send_time"]
        got = datetime.datetime.strptime(st, "%Y-%m-%d %H:%M:%S %z")
        want = datetime.datetime(2030, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
        self.assertEqual(got, want, st)

    def test_o2_limits_ok(self):
        files = [self.up() for _ in range(10)]
        self.send_ok(self.tok, self.payload(files=files))
        to = ["+1303555%04d" % i for i in range(4000)]
        a = self.new_account()
        body = self.send_ok(a["token"], {"from": "no_number", "to": to, "return_ids": True,
                                         "files": [self.up(token=a["token"])]})
        self.assertEqual(len(body["ids"]), 4000)
        self.assertEqual(len(self.outbox(a["token"])[0]["to"]), 4000)
        r = self.send(self.tok, self.payload(options={"enhancement": False,
                                                      "retry": {"count": 3, "delay": 720}}))
        self.assertJson(r, 201, "SendFaxResponse")
        r = self.send(self.tok, self.payload(options={"retry": {"count": 0, "delay": 0}}))
        self.assertJson(r, 201, "SendFaxResponse")

    # ---- O2 errors
    def assertSendError(self, payload, status, code, token=None):
        before = len(self.outbox(token))
        self.assertError(self.send(token or self.tok, payload), status, code)
        self.assertEqual(len(self.outbox(token)), before, "a rejected send left a record")

    def test_o2_files_errors(self):
        theirs = self.up(token=self.other["token"])
        for files in ([], ["/transient-" + "0" * 32], [theirs], ["nonsense"], [self.up(), theirs],
                      "not-a-list", [5]):
            with self.subTest(files=files):
                self.assertSendError(self.payload(files=files), 400, "invalid_request")

    def test_o2_too_many_files(self):
        files = [self.up() for _ in range(11)]
        self.assertSendError(self.payload(files=files), 400, "too_many_files")

    def test_o2_too_many_destinations(self):
        to = ["+1303555%04d" % i for i in range(4001)]
        self.assertSendError(self.payload(to=to), 400, "too_many_destinations")

    def test_o2_total_size_too_large(self):
        files = [self.up(PDF, "letter_a4.pdf") for _ in range(3)]  # 141528 > 100000
        self.assertSendError(self.payload(files=files), 413, "payload_too_large")
        self.send_ok(self.tok, self.payload(files=files[:2]))  # 94352 <= 100000

    def test_o2_bad_options(self):
        for opts in ({"retry": {"count": 4, "delay": 0}}, {"retry": {"count": 0, "delay": 721}},
                     {"retry": {"count": -1, "delay": 0}}, {"retry": {"count": 0, "delay": -1}},
                     {"retry": {"count": "1", "delay": 0}}, {"enhancement": "yes"},
                     {"retry": "x"}, "x"):
            with self.subTest(options=opts):
                self.assertSendError(self.payload(options=opts), 400, "invalid_request")

    def test_o2_bad_send_time(self):
        for st in ("tomorrow", "2030-01-01T10:00:00 +0000", "2030-01-01 10:00 +0000",
                   "2030-01-01", "2030-13-01 10:00:00 +0000", "", 1893456000):
            with self.subTest(send_time=st):
                self.assertSendError(self.payload(send_time=st), 400, "invalid_request")

    def test_o2_bad_from(self):
        for frm in (self.other["number"], "+19995550000", "abc", "", ",", " ", 5,
                    self.acct["number"] + "," + self.other["number"]):
            with self.subTest(frm=frm):
                self.assertSendError(self.payload(**{"from": frm}), 400, "invalid_request")
        p = self.payload()
        del p["from"]
        self.assertSendError(p, 400, "invalid_request")

    def test_o2_member_from_assigned_number(self):
        admin = self.new_account("corporate_admin", number=True)
        m1 = self.new_account("corporate_member", admin=admin["uid"])
        m2 = self.new_account("corporate_member", admin=admin["uid"])
        self.assertEmptyOk(self.req("PUT", "/accounts/self/numbers/%2B" + admin["number"][1:],
                                    token=admin["token"], body={"assigned_to": m1["uid"]}))
        p1 = self.up(token=m1["token"])
        self.send_ok(m1["token"], {"from": admin["number"], "to": ["+12025550130"],
                                   "files": [p1]})
        p2 = self.up(token=m2["token"])
        self.assertSendError({"from": admin["number"], "to": ["+12025550131"], "files": [p2]},
                             400, "invalid_request", token=m2["token"])
        self.send_ok(m2["token"], {"from": "no_number", "to": ["+12025550131"], "files": [p2]})
        # the admin sends from its own number
        self.send_ok(admin["token"], {"from": admin["number"], "to": ["+12025550132"],
                                      "files": [self.up(token=admin["token"])]})

    def test_admin_sends_for_member(self):
        admin = self.new_account("corporate_admin")
        m = self.new_account("corporate_member", admin=admin["uid"])
        ta = admin["token"]
        path = self.upload_ok(ta, LETTER, "letter.txt", user=m["uid"])
        text = "adm-" + uuid.uuid4().hex
        self.send_ok(ta, {"from": "no_number", "to": ["+12025550140"], "files": [path],
                          "comment": {"text": text, "tags": []}}, user=m["uid"])
        rec = self.find(text, m["token"])
        self.assertEqual(rec["uid"], m["uid"])
        self.assertEqual(self.outbox(ta), [])
        o = self.assertJson(self.req("GET", "/accounts/%s/outbox/%s" % (m["uid"], rec["id"]),
                                     token=ta), 200, "Outbox")
        self.assertEqual(stable(o), stable(rec))
        self.assertError(self.req("GET", "/accounts/self/outbox/" + rec["id"], token=ta), 404,
                         "not_found")
        self.assertEmptyOk(self.req("DELETE", "/accounts/%s/outbox/%s" % (m["uid"], rec["id"]),
                                    token=ta))
        self.assertEqual(self.outbox(m["token"]), [])

    def test_o2_bad_to_and_body(self):
        for to in ([], "+12025550111", [5], None):
            with self.subTest(to=to):
                p = self.payload(to=to)
                if to is None:
                    del p["to"]
                self.assertSendError(p, 400, "invalid_request")
        for comment in (5, ["x"], {"text": 5}, {"tags": "x"}, {"tags": [1]}):
            with self.subTest(comment=comment):
                self.assertSendError(self.payload(comment=comment), 400, "invalid_request")
        self.assertSendError(self.payload(return_ids="yes"), 400, "invalid_request")
        for cover in ("x", {"name_to": 5, "name_from": "a", "subject": "s"},
                      {"name_to": "b", "name_from": "a", "subject": "s", "flags": ["bogus"]},
                      {"name_to": "b", "name_from": "a", "subject": "s", "flags": "urgent"}):
            with self.subTest(cover_page=cover):
                self.assertSendError(self.payload(cover_page=cover), 400, "invalid_request")

    def test_o2_incomplete_cover_page_stays_sdk_safe(self):
        # not decided whether this is refused; if accepted, O3 must still be SDK-valid
        text = "cov-" + uuid.uuid4().hex
        r = self.send(self.tok, self.payload(cover_page={"name_to": "x"},
                                             comment={"text": text, "tags": []}))
        if r.status == 400:
            self.assertError(r, 400, "invalid_request")
            return
        self.assertJson(r, 201, "SendFaxResponse")
        o = self.get(self.find(text)["id"])  # validates cover_page as FaxCoverPage
        self.assertEqual(o["cover_page"]["name_to"], "x")

    # ---- normalisation and invalid numbers
    def test_o2_normalisation(self):
        text = "norm-" + uuid.uuid4().hex
        to = ["+1 (202) 555-0100", "0012025550101", "+1.202.555.0102", "+1-202-555-0103"]
        body = self.send_ok(self.tok, self.payload(to=to, comment={"text": text, "tags": []}))
        self.assertEqual(sorted(body["ids"]), sorted(to))
        o = self.get(self.find(text)["id"])
        self.assertEqual(o["to"], ["+12025550100", "+12025550101", "+12025550102",
                                   "+12025550103"])

    def test_o2_invalid_destinations_become_fax_records(self):
        a = self.new_account()
        tok = a["token"]
        text = "inv-" + uuid.uuid4().hex
        to = ["abc", "+1 (202) 555-0100", "12"]
        body = self.send_ok(tok, {"from": "no_number", "to": to, "return_ids": True,
                                  "files": [self.up(token=tok)],
                                  "comment": {"text": text, "tags": []}})
        self.assertEqual(sorted(body["ids"]), sorted(to))
        for bad in ("abc", "12"):
            with self.subTest(dest=bad):
                r = self.req("GET", "/accounts/self/faxes/" + body["ids"][bad], token=tok)
                fx = self.assertJson(r, 200, "Fax")
                self.assertEqual(fx["id"], body["ids"][bad])
                self.assertEqual(fx["status"], "failed_invalid_number_format")
                self.assertEqual(fx["direction"], "outgoing")
                self.assertEqual(fx["to"], bad)
                self.assertEqual(fx["pages"], 0)
                self.assertEqual(fx["owner_id"], a["uid"])
        sent = self.assertJson(self.req("GET", "/accounts/self/faxes", token=tok,
                                        query={"category": "sent"}), 200, "FaxList")
        self.assertEqual(sorted(f["id"] for f in sent["data"]["records"]),
                         sorted([body["ids"]["abc"], body["ids"]["12"]]))
        # never started: after/before compare with submit_time
        for q, want in (({"after": "2000-01-01 00:00:00"}, 2),
                        ({"before": "2000-01-01 00:00:00"}, 0),
                        ({"before": "2999-01-01 00:00:00", "category": "sent"}, 2)):
            with self.subTest(query=q):
                got = self.assertJson(self.req("GET", "/accounts/self/faxes", token=tok, query=q),
                                      200, "FaxList")["data"]["records"]
                self.assertEqual(len(got), want)
        inbox = self.assertJson(self.req("GET", "/accounts/self/faxes", token=tok,
                                         query={"category": "inbox"}), 200, "FaxList")
        self.assertEqual(inbox["data"]["records"], [])
        # the valid destination stays in the outbox, not yet a fax record
        o = self.get(self.find(text, tok)["id"], tok)
        self.assertEqual(o["to"], ["+12025550100"])
        self.assertError(self.req("GET", "/accounts/self/faxes/" + body["ids"]["+1 (202) 555-0100"],
                                  token=tok), 404, "not_found")

    # ---- O1 / O3 / O4 / O5
    def test_o1_lists_only_own(self):
        a, b = self.new_account(), self.new_account()
        self.assertEqual(self.outbox(a["token"]), [])
        ta, tb = "a-" + uuid.uuid4().hex, "b-" + uuid.uuid4().hex
        self.send_ok(a["token"], {"from": "no_number", "to": ["+12025550120"],
                                  "files": [self.up(token=a["token"])],
                                  "comment": {"text": ta, "tags": []}})
        self.send_ok(b["token"], {"from": "no_number", "to": ["+12025550121"],
                                  "files": [self.up(token=b["token"])],
                                  "comment": {"text": tb, "tags": []}})
        recs = self.outbox(a["token"])
        self.assertEqual([r["comment"]["text"] for r in recs], [ta])
        self.assertEqual(recs[0]["uid"], a["uid"])
        validate("OutboxList", {"records": recs})

    def test_o4_update_comment(self):
        text = "o4-" + uuid.uuid4().hex
        self.send_ok(self.tok, self.payload(comment={"text": text, "tags": ["keep"]}))
        oid = self.find(text)["id"]
        path = "/accounts/self/outbox/" + oid
        self.assertEmptyOk(self.req("PUT", path, token=self.tok, body={"comment": "new"}))
        o = self.get(oid)
        self.assertEqual(o["comment"]["text"], "new")
        for b in ({"comment": 5}, {"comment": {"text": "x"}}, {"comment": ["x"]}):
            with self.subTest(body=b):
                self.assertError(self.req("PUT", path, token=self.tok, body=b), 400,
                                 "invalid_request")
        self.assertEqual(self.get(oid)["comment"]["text"], "new")
        self.assertError(self.req("PUT", "/accounts/self/outbox/" + "0" * 32, token=self.tok,
                                  body={"comment": "x"}), 404, "not_found")

    def test_o5_cancel(self):
        text = "o5-" + uuid.uuid4().hex
        self.send_ok(self.tok, self.payload(comment={"text": text, "tags": []}))
        oid = self.find(text)["id"]
        path = "/accounts/self/outbox/" + oid
        self.assertEmptyOk(self.req("DELETE", path, token=self.tok))
        self.assertError(self.req("GET", path, token=self.tok), 404, "not_found")
        self.assertNotIn(oid, [r["id"] for r in self.outbox()])
        self.assertError(self.req("DELETE", path, token=self.tok), 404, "not_found")
        self.assertError(self.req("PUT", path, token=self.tok, body={"comment": "x"}), 404,
                         "not_found")

    def test_o3_unknown(self):
        for oid in ("0" * 32, "xyz"):
            with self.subTest(oid=oid):
                self.assertError(self.req("GET", "/accounts/self/outbox/" + oid, token=self.tok),
                                 404, "not_found")


if __name__ == "__main__":
    unittest.main()
