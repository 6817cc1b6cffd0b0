"""Conversion through the API: a sent fax's documents and cover page become one fax TIFF
before anything is dialled (outbox: submitted -> converting -> scheduled_for_sending with
page_count), documents that cannot be faxed end every destination with the exact status,
uploads say at once when a file cannot be faxed, previews return pages and thumbnails,
a hanging converter fails only its own fax, and a kill -9 mid-conversion is recovered."""

import base64
import os
import stat
import time

from faxd_harness import Faxd, FaxdTestCase, fixture_bytes, main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def write_script(path, body):
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + body + "\n")
    os.chmod(path, stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
    return path


class ConvertFlow:
    """Helpers shared by the test classes below."""

    def upload(self, tok, name):
        r = self.faxd.upload(tok, fixture_bytes(name), filename=name)
        body = self.assertJson(r, 200, "FilePath")
        return body

    def send_files(self, acct, names, cover=None, to=("+12025550100",)):
        paths = [self.upload(acct["token"], n)["path"] for n in names]
        # Due far in the future: converted at once, then kept in the outbox (not dialled).
        payload = {"from": "no_number", "to": list(to), "files": paths, "return_ids": True,
                   "send_time": "2031-01-01 00:00:00 +0000"}
        if cover:
            payload["cover_page"] = cover
        return self.send_ok(acct["token"], payload)["ids"]

    def outbox_of(self, tok):
        r = self.req("GET", "/accounts/self/outbox", token=tok)
        return self.assertJson(r, 200, "OutboxList")["records"]

    def wait_outbox(self, tok, want, timeout=120):
        """Waits until every outbox record is in status `want`; returns them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            recs = self.outbox_of(tok)
            if recs and all(r["status"] == want for r in recs):
                return recs
            time.sleep(0.2)
        self.fail("outbox did not reach %s: %r\n%s" % (want, self.outbox_of(tok),
                                                       self.faxd.stderr_tail(3000)))

    def wait_fax(self, tok, fax_id, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = self.req("GET", "/accounts/self/faxes/%s" % fax_id, token=tok)
            if r.status == 200:
                return self.assertJson(r, 200, "Fax")
            self.assertEqual(r.status, 404, repr(r))
            time.sleep(0.2)
        self.fail("no fax record %s; outbox %r\n%s" % (fax_id, self.outbox_of(tok),
                                                       self.faxd.stderr_tail(3000)))


class ConvertApiTest(ConvertFlow, FaxdTestCase):

    def test_pdf_and_docx_with_cover_are_scheduled_with_pages(self):
        acct = self.new_account()
        cover = {"name_to": "Dr. Weiss", "name_from": "Ana", "subject": "Invoice",
                 "message": "Please see the attached pages.", "flags": ["urgent"]}
        self.send_files(acct, ["letter_a4.pdf", "report.docx"], cover=cover)
        rec = self.wait_outbox(acct["token"], "scheduled_for_sending")[0]
        self.assertEqual(rec["page_count"], 1 + 1 + 4)
        steps = [c["status"] for c in rec["status_changes"]]
        self.assertEqual(steps, ["submitted", "converting", "scheduled_for_sending"])

    def test_unsupported_file_fails_every_destination(self):
        acct = self.new_account()
        up = self.upload(acct["token"], "bad_binary.exe")
        self.assertIs(up.get("supported"), False)
        self.assertIn("failed_mimetype_not_supported", up.get("warning", ""))
        ids = self.send_ok(acct["token"], {"from": "no_number", "files": [up["path"]],
                                           "to": ["+12025550100", "+12025550101"],
                                           "return_ids": True})["ids"]
        for fid in ids.values():
            fax = self.wait_fax(acct["token"], fid)
            self.assertEqual(fax["status"], "failed_mimetype_not_supported")
            self.assertIn("bad_binary.exe", fax["description"])
            self.assertEqual(fax["pages"], 0)
        self.assertEqual(self.outbox_of(acct["token"]), [])

    def test_supported_upload_says_so(self):
        acct = self.new_account()
        up = self.upload(acct["token"], "png_named.pdf")
        self.assertIs(up.get("supported"), True)
        self.assertEqual(up.get("mime_type"), "image/png")
        self.assertNotIn("warning", up)

    def test_statuses_of_bad_documents(self):
        cases = {"bad_encrypted.pdf": "failed_unknown_converter_issue",
                 "bad_truncated.pdf": "failed_separate_file_pages_issue",
                 "bad_corrupt.docx": "failed_office_converter_issue",
                 "bad_bomb.png": "failed_image_preparation",
                 "empty.txt": "failed_mimetype_not_supported"}
        acct = self.new_account()
        for name, status in cases.items():
            with self.subTest(name=name):
                ids = self.send_files(acct, ["letter_a4.pdf", name])
                fax = self.wait_fax(acct["token"], list(ids.values())[0])
                self.assertEqual(fax["status"], status)
                self.assertIn(name, fax["description"])

    def test_preview(self):
        acct = self.new_account()
        paths = [self.upload(acct["token"], n)["path"] for n in ["letter.docx", "photo.jpg"]]
        r = self.req("POST", "/accounts/self/preview", token=acct["token"],
                     body={"files": paths, "cover_page": {"name_to": "Bob", "name_from": "Ana",
                                                          "subject": "Hi"},
                           "thumbnails": 2, "width": 120})
        body = self.assertJson(r, 200)
        self.assertIs(body["ok"], True, body)
        self.assertEqual(body["pages"], 3)
        self.assertEqual(len(body["thumbnails"]), 2)
        self.assertIs(body["thumbnails_truncated"], True)
        for uri in body["thumbnails"]:
            self.assertTrue(uri.startswith("data:image/png;base64,"))
            self.assertEqual(base64.b64decode(uri.split(",", 1)[1])[:8], PNG_MAGIC)
        # Nothing was sent.
        self.assertEqual(self.outbox_of(acct["token"]), [])

    def test_preview_of_a_bad_document(self):
        acct = self.new_account()
        paths = [self.upload(acct["token"], n)["path"]
                 for n in ["letter_a4.pdf", "bad_corrupt.docx"]]
        r = self.req("POST", "/accounts/self/preview", token=acct["token"], body={"files": paths})
        body = self.assertJson(r, 200)
        self.assertIs(body["ok"], False)
        self.assertEqual(body["status"], "failed_office_converter_issue")
        self.assertEqual(body["file_index"], 1)
        self.assertEqual(body["thumbnails"], [])

    def test_preview_refuses_bad_cover_flags(self):
        acct = self.new_account()
        path = self.upload(acct["token"], "letter_a4.pdf")["path"]
        for flags in (["urgent", "bogus"], "urgent"):
            r = self.req("POST", "/accounts/self/preview", token=acct["token"],
                         body={"files": [path], "cover_page": {"name_to": "a", "name_from": "b",
                                                               "subject": "c", "flags": flags}})
            self.assertError(r, 400, "invalid_request")

    def test_preview_refuses_other_accounts_files(self):
        a, b = self.new_account(), self.new_account()
        path = self.upload(b["token"], "letter_a4.pdf")["path"]
        r = self.req("POST", "/accounts/self/preview", token=a["token"], body={"files": [path]})
        self.assertError(r, 400, "invalid_request")


class HangingConverterTest(ConvertFlow, FaxdTestCase):
    """Ghostscript replaced by a program that never ends: only that fax fails, with the
    PDF route's status, within the configured timeout."""

    @classmethod
    def setUpClass(cls):
        import tempfile
        cls.tmp = tempfile.mkdtemp(prefix="faxd-hang-")
        cls.faxd_env = {"FAXD_CONVERT_GHOSTSCRIPT": write_script(
            os.path.join(cls.tmp, "gs-hangs"), "sleep 600"), "FAXD_CONVERT_TIMEOUT": "2"}
        super().setUpClass()

    def test_hanging_ghostscript(self):
        acct = self.new_account()
        start = time.monotonic()
        ids = self.send_files(acct, ["letter_a4.pdf"])
        fax = self.wait_fax(acct["token"], list(ids.values())[0], timeout=30)
        self.assertEqual(fax["status"], "failed_convert_to_tiff_issue")
        self.assertLess(time.monotonic() - start, 20)
        # The API kept answering meanwhile, and images (no Ghostscript) still convert.
        self.send_files(acct, ["photo.jpg"])
        rec = self.wait_outbox(acct["token"], "scheduled_for_sending")[0]
        self.assertEqual(rec["page_count"], 1)


class CrashRecoveryTest(ConvertFlow, FaxdTestCase):
    """kill -9 while a conversion runs: after the restart the fax is converted once."""

    @classmethod
    def setUpClass(cls):
        import tempfile
        cls.tmp = tempfile.mkdtemp(prefix="faxd-slow-")
        cls.faxd_env = {"FAXD_CONVERT_GHOSTSCRIPT": write_script(
            os.path.join(cls.tmp, "gs-slow"), 'sleep 3; exec gs "$@"')}
        super().setUpClass()

    def test_kill_during_conversion(self):
        acct = self.new_account()
        self.send_files(acct, ["report.pdf"])
        self.wait_outbox(acct["token"], "converting", timeout=10)
        self.faxd.kill9()
        self.faxd.extra_env.pop("FAXD_CONVERT_GHOSTSCRIPT")
        self.faxd.start()
        rec = self.wait_outbox(acct["token"], "scheduled_for_sending", timeout=60)[0]
        self.assertEqual(rec["page_count"], 4)
        steps = [c["status"] for c in rec["status_changes"]]
        self.assertEqual(steps, ["submitted", "converting", "scheduled_for_sending"])


if __name__ == "__main__":
    main()
