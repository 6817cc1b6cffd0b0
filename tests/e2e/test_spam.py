"""Spam: an inbound fax from a blocked number, or without caller id when the account
refuses anonymous faxes, is kept with is_spam, listed only under category=spam, not
charged, and raises no fax_received webhook; PUT …/faxes/{id} {"is_spam": …} moves it."""

import time

from faxd_harness import FaxdTestCase, fixture_bytes, main


class SpamTest(FaxdTestCase):
    faxd_env = {"FAXD_WEBHOOK_ALLOW_PRIVATE": "on"}

    def fax_to_self(self, acct, frm):
        tok = acct["token"]
        path = self.upload_ok(tok, fixture_bytes("letter_a4.pdf"), "letter_a4.pdf")
        ids = self.send_ok(tok, {"from": frm, "to": [acct["number"]], "files": [path],
                                 "return_ids": True})["ids"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            r = self.req("GET", "/accounts/self/faxes/" + ids[acct["number"]], token=tok)
            if r.status == 200:
                break
            time.sleep(0.2)
        recs = self.assertJson(self.req("GET", "/accounts/self/faxes", token=tok,
                                        query={"category": "spam"}), 200, "FaxList")
        inbox = self.assertJson(self.req("GET", "/accounts/self/faxes", token=tok,
                                         query={"category": "inbox"}), 200, "FaxList")
        return recs["data"]["records"], inbox["data"]["records"]

    def deliveries(self, uid, event):
        c = self.faxd.db()
        try:
            return c.execute("SELECT COUNT(*) FROM deliveries WHERE uid = ? AND event = ?",
                             (uid, event)).fetchone()[0]
        finally:
            c.close()

    def test_blocked_sender(self):
        acct = self.new_account(number=True)
        tok = acct["token"]
        self.assertJson(self.req("POST", "/hooks", token=tok, body={
            "target": "http://127.0.0.1:9/h", "event": "fax_received"}), 200)
        self.faxctl("blocklist", "add", "--account", acct["uid"], "--number", acct["number"])
        spam, inbox = self.fax_to_self(acct, acct["number"])
        self.assertEqual(len(spam), 1)
        self.assertEqual(inbox, [])
        rec = spam[0]
        self.assertEqual((rec["is_spam"], rec["direction"], rec["cost"]), (True, "incoming", 0))
        default = self.assertJson(self.req("GET", "/accounts/self/faxes", token=tok), 200,
                                  "FaxList")["data"]["records"]
        self.assertNotIn(rec["id"], [f["id"] for f in default])
        self.assertEqual(self.deliveries(acct["uid"], "fax_received"), 0)
        # Not spam after all: back to the inbox.
        self.assertEmptyOk(self.req("PUT", "/accounts/self/faxes/" + rec["id"], token=tok,
                                    body={"is_spam": False}))
        got = self.assertJson(self.req("GET", "/accounts/self/faxes/" + rec["id"], token=tok),
                              200, "Fax")
        self.assertIs(got["is_spam"], False)
        inbox = self.assertJson(self.req("GET", "/accounts/self/faxes", token=tok,
                                         query={"category": "inbox"}), 200, "FaxList")
        self.assertEqual([f["id"] for f in inbox["data"]["records"]], [rec["id"]])
        # Outgoing records cannot be spam.
        sent = self.assertJson(self.req("GET", "/accounts/self/faxes", token=tok,
                                        query={"category": "sent"}), 200, "FaxList")
        r = self.req("PUT", "/accounts/self/faxes/" + sent["data"]["records"][0]["id"],
                     token=tok, body={"is_spam": True})
        self.assertError(r, 400, "invalid_request")
        listed = self.faxctl("blocklist", "list", "--account", acct["uid"])
        self.assertEqual(listed["blocked"], [acct["number"]])

    def test_anonymous_and_settings(self):
        acct = self.new_account(number=True)
        tok = acct["token"]
        # Unblocked and accepted: an anonymous fax (no_number) goes to the inbox.
        spam, inbox = self.fax_to_self(acct, "no_number")
        self.assertEqual((len(spam), len(inbox)), (0, 1))
        self.assertEqual(self.deliveries(acct["uid"], "fax_received"), 0)  # no hook: none
        self.assertEmptyOk(self.req("PUT", "/accounts/self", token=tok, body={
            "settings": {"options": {"refuse_anonymous": True, "blocklist": ["+12025550188"]}}}))
        spam, inbox = self.fax_to_self(acct, "no_number")
        self.assertEqual((len(spam), len(inbox)), (1, 1))
        listed = self.faxctl("blocklist", "list", "--account", acct["uid"])
        self.assertEqual(listed["blocked"], ["+12025550188"])
        r = self.req("PUT", "/accounts/self", token=tok,
                     body={"settings": {"options": {"blocklist": ["not a number"]}}})
        self.assertError(r, 400, "invalid_request")


if __name__ == "__main__":
    main()
