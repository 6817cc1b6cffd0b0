"""The fax list is served from each HTTP thread's cache of rendered pages while nothing
changes; every change, whether through the API, by faxd's own workers or by another
process (faxctl), shows in the very next listing. One HTTP thread makes every request
hit the same cache."""

from faxd_harness import FaxdTestCase, main


class ListCacheTest(FaxdTestCase):
    faxd_env = {"FAXD_HTTP_THREADS": "1"}

    def listing(self, tok, **query):
        r = self.req("GET", "/accounts/self/faxes", token=tok, query=query or None)
        return self.assertJson(r, 200, "FaxList")["data"]["records"]

    def test_changes_show_at_once(self):
        acct = self.new_account(number=True)
        tok = acct["token"]
        first = self.faxd.import_fax(acct["uid"], to=acct["number"])
        self.assertEqual([f["id"] for f in self.listing(tok)], [first["id"]])
        self.assertEqual(self.listing(tok), self.listing(tok))  # served again, unchanged

        # A change through the API.
        self.assertEmptyOk(self.req("PUT", "/accounts/self/faxes/" + first["id"], token=tok,
                                    body={"comment": "seen", "is_read": True}))
        rec = self.listing(tok)[0]
        self.assertEqual((rec["comment"], rec["is_read"]), ("seen", True))

        # A change by another process.
        second = self.faxd.import_fax(acct["uid"], to=acct["number"])
        self.assertEqual({f["id"] for f in self.listing(tok)}, {first["id"], second["id"]})

        # A change by faxd's own workers: a send to a non-number is recorded at once.
        path = self.upload_ok(tok, b"%PDF-1.4 not really", "x.pdf")
        ids = self.send_ok(tok, {"from": "no_number", "to": ["nope"], "files": [path],
                                 "return_ids": True})["ids"]
        self.assertIn(ids["nope"], [f["id"] for f in self.listing(tok)])

        # Deletion, and other query shapes of the same account.
        self.assertEmptyOk(self.req("DELETE", "/accounts/self/faxes/" + first["id"], token=tok))
        self.assertNotIn(first["id"], [f["id"] for f in self.listing(tok)])
        self.assertNotIn(first["id"], [f["id"] for f in self.listing(tok, category="inbox")])
        self.assertEqual(len(self.listing(tok, limit=1)), 1)

    def test_accounts_never_share_a_page(self):
        a, b = self.new_account(), self.new_account()
        fa = self.faxd.import_fax(a["uid"])
        fb = self.faxd.import_fax(b["uid"])
        self.assertEqual([f["id"] for f in self.listing(a["token"])], [fa["id"]])
        self.assertEqual([f["id"] for f in self.listing(b["token"])], [fb["id"]])
        self.assertEqual([f["id"] for f in self.listing(a["token"])], [fa["id"]])


if __name__ == "__main__":
    main()
