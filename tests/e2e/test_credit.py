"""Credit and cost (billing.enforce on): a fax costs its confirmed pages times its
destination's multiplier (longest prefix of billing.rates), debited with a ledger row;
a fax the balance does not cover is not dialled and ends insufficient_credit; refused
prefixes end failed_destination_not_supported at submit."""

import time

from faxd_harness import FaxdTestCase, fixture_bytes, main


class CreditTest(FaxdTestCase):
    faxd_env = {"FAXD_BILLING_ENFORCE": "on",
                "FAXD_BILLING_RATES": "+1555000:1,+15550000001:2,+1900:refuse"}

    def send_doc(self, acct, to, name="report.pdf"):
        tok = acct["token"]
        path = self.upload_ok(tok, fixture_bytes(name), name)
        return self.send_ok(tok, {"from": "no_number", "to": to, "files": [path],
                                  "return_ids": True})["ids"]

    def attempts(self, fax_id):
        c = self.faxd.db()
        try:
            return c.execute("SELECT COUNT(*) FROM attempts WHERE fax_id = ? AND "
                             "call_end = 'answered'", (fax_id,)).fetchone()[0]
        finally:
            c.close()

    def test_costs_and_refusals(self):
        acct = self.new_account()
        tok = acct["token"]
        # No credit: not dialled at all.
        ids = self.send_doc(acct, ["+15550000001"])
        rec = self.wait_fax(tok, ids["+15550000001"])
        self.assertEqual(rec["status"], "insufficient_credit")
        self.assertEqual((rec["pages"], rec["cost"]), (0, 0))
        self.assertEqual(self.attempts(rec["id"]), 0)
        # 4 pages at multiplier 2 need 8 pages of credit.
        self.assertEqual(self.faxctl("credit", "add", "--account", acct["uid"], "--pages", "10")
                         ["credit"], 10)
        ids = self.send_doc(acct, ["+15550000001"])
        rec = self.wait_fax(tok, ids["+15550000001"])
        self.assertEqual(rec["status"], "success")
        self.assertEqual((rec["pages"], rec["cost"]), (4, 8))
        self.assertEqual(rec["cost_details"]["multiplier"], 2)
        show = self.faxctl("credit", "show", "--account", acct["uid"])
        self.assertEqual(show["credit"], 2)
        self.assertEqual([(l["delta"], l["balance"]) for l in show["ledger"]], [(10, 10), (-8, 2)])
        self.assertEqual(show["ledger"][1]["fax_id"], rec["id"])
        # 2 pages left: a 4-page fax at multiplier 1 is refused, a 1-page one goes.
        ids = self.send_doc(acct, ["+15550000002"])  # busy number: never even dialled
        self.assertEqual(self.wait_fax(tok, ids["+15550000002"])["status"],
                         "insufficient_credit")
        # Refused prefixes are decided at submit.
        ids = self.send_doc(acct, ["+19005550100", "+15550000003"], name="letter_a4.pdf")
        rec = self.wait_fax(tok, ids["+19005550100"])
        self.assertEqual(rec["status"], "failed_destination_not_supported")
        self.assertEqual(self.faxctl("credit", "show", "--account", acct["uid"])["credit"], 2)

    def inbox(self, tok, n):
        deadline = time.monotonic() + 30
        recs = []
        while time.monotonic() < deadline and len(recs) < n:
            recs = self.assertJson(self.req("GET", "/accounts/self/faxes", token=tok,
                                            query={"category": "inbox"}), 200,
                                   "FaxList")["data"]["records"]
            time.sleep(0.2)
        return recs

    def test_inbound_needs_credit(self):
        sender = self.new_account()
        self.faxctl("credit", "add", "--account", sender["uid"], "--pages", "5")
        rich, poor = self.new_account(number=True), self.new_account(number=True)
        self.faxctl("credit", "add", "--account", rich["uid"], "--pages", "3")
        self.send_doc(sender, [rich["number"], poor["number"]], name="letter_a4.pdf")
        got = self.inbox(rich["token"], 1)[0]
        self.assertEqual((got["status"], got["cost"]), ("success", 1))
        self.assertEqual(self.faxctl("credit", "show", "--account", rich["uid"])["credit"], 2)
        # The poor account's fax is kept (the sender was told it arrived), not charged.
        got = self.inbox(poor["token"], 1)[0]
        self.assertEqual((got["status"], got["cost"], got["pages"]),
                         ("insufficient_credit", 0, 1))
        self.assertEqual(self.faxctl("credit", "show", "--account", poor["uid"])["credit"], 0)
        self.assertEqual(self.faxctl("credit", "show", "--account", sender["uid"])["credit"], 3)


    def test_member_monthly_quota(self):
        admin = self.new_account("corporate_admin")
        member = self.new_account("corporate_member", admin=admin["uid"])
        self.faxctl("credit", "add", "--account", member["uid"], "--pages", "100")
        self.assertEmptyOk(self.req("PUT", "/accounts/self/member-details/" + member["uid"],
                                    token=admin["token"], body={"quota": 4, "role": "staff"}))
        ids = self.send_doc(member, ["+15550000002"])  # 4 pages: within the quota
        self.assertEqual(self.wait_fax(member["token"], ids["+15550000002"])["status"],
                         "failed_user_busy")  # dialled (busy), nothing confirmed
        ids = self.send_doc(member, ["+15550000009"])
        rec = self.wait_fax(member["token"], ids["+15550000009"])
        self.assertEqual((rec["status"], rec["pages"]), ("partially_sent", 1))  # 1 page used
        ids = self.send_doc(member, ["+15550000002"])  # 1 used + 4 more would pass 4
        rec = self.wait_fax(member["token"], ids["+15550000002"])
        self.assertEqual(rec["status"], "insufficient_credit")
        self.assertIn("quota", rec["description"])


if __name__ == "__main__":
    main()
