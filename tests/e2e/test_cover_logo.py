"""The company logo and name on cover pages, and PDF downloads sized from the fax's
resolution."""

import base64
import os
import subprocess
import time

from faxd_harness import FaxdTestCase, fixture, fixture_bytes, main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def pdf_page_size(data):
    out = subprocess.run(["pdfinfo", "-"], input=data, capture_output=True, check=True)
    for line in out.stdout.decode().splitlines():
        if line.startswith("Page size:"):
            w, _, h = line.split(":", 1)[1].split()[:3]
            return float(w), float(h)
    raise AssertionError("no page size")


class CoverLogoTest(FaxdTestCase):

    def db_logo(self, uid):
        c = self.faxd.db()
        try:
            return c.execute("SELECT logo_blob FROM accounts WHERE uid = ?", (uid,)).fetchone()[0]
        finally:
            c.close()

    def test_logo_is_kept_and_drawn(self):
        acct = self.new_account()
        tok = acct["token"]
        uri = "data:image/png;base64," + base64.b64encode(fixture_bytes("logo_alpha.png")).decode()
        self.assertEmptyOk(self.req("PUT", "/accounts/self", token=tok, body={
            "account_data": {"company_name": "Acme Clinic", "company_logo": uri}}))
        key = self.db_logo(acct["uid"])
        self.assertTrue(key)
        with open(self.faxd.blob_path(key), "rb") as f:
            self.assertEqual(f.read(), fixture_bytes("logo_alpha.png"))
        path = self.upload_ok(tok, fixture_bytes("letter_a4.pdf"), "letter_a4.pdf")
        cover = {"name_to": "Bob", "name_from": "Ana", "subject": "Logo"}
        body = {"files": [path], "cover_page": cover, "thumbnails": 1, "width": 400}
        with_logo = self.assertJson(self.req("POST", "/accounts/self/preview", token=tok,
                                             body=body), 200)
        self.assertIs(with_logo["ok"], True, with_logo)
        self.assertEqual(with_logo["pages"], 2)
        # Without the logo the cover page looks different (the logo is really drawn).
        self.assertEmptyOk(self.req("PUT", "/accounts/self", token=tok, body={
            "account_data": {"company_logo": ""}}))
        self.assertEqual(self.db_logo(acct["uid"]), "")
        without = self.assertJson(self.req("POST", "/accounts/self/preview", token=tok,
                                           body=body), 200)
        self.assertNotEqual(with_logo["thumbnails"][0], without["thumbnails"][0])

    def test_bad_logos_are_refused(self):
        tok = self.new_account()["token"]
        for logo in ("data:image/gif;base64,R0lGOD", "data:image/png;base64,not base64!",
                     "data:image/png;base64," + base64.b64encode(b"GIF89a....").decode()):
            with self.subTest(logo=logo[:30]):
                r = self.req("PUT", "/accounts/self", token=tok,
                             body={"account_data": {"company_logo": logo}})
                self.assertError(r, 400, "invalid_request")
        # A URL is kept as text; faxd never fetches it.
        self.assertEmptyOk(self.req("PUT", "/accounts/self", token=tok, body={
            "account_data": {"company_logo": "https://example.com/logo.png"}}))

    def test_pdf_pages_are_sized_from_the_resolution(self):
        acct = self.new_account()
        tok = acct["token"]
        for name, pages in (("fax_g3_fine.tif", 2), ("fax_g3_normal.tif", 1)):
            with self.subTest(name=name):
                rec = self.faxd.import_fax(acct["uid"], file=fixture(name))
                r = self.req("GET", "/accounts/self/files/" + rec["id"], token=tok,
                             query={"format": "pdf"})
                self.assertStatus(r, 200)
                w, h = pdf_page_size(r.body)
                # 1728 px at 204 dpi = 609.9 pt; 2292 lines at 196 lpi or 1146 at 98 = 842 pt
                self.assertAlmostEqual(w, 609.88, delta=0.5)
                self.assertAlmostEqual(h, 841.96, delta=0.5)
                out = subprocess.run(["pdfinfo", "-"], input=r.body, capture_output=True)
                self.assertRegex(out.stdout.decode(), r"Pages:\s+%d\n" % pages)


if __name__ == "__main__":
    main()
