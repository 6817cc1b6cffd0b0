"""Files: U1 upload (every fixture byte-exact), U2 download (TIFF/PDF), U3 report."""

import os
import re
import shutil
import subprocess
import tempfile
import unittest

from faxd_harness import (FaxdTestCase, fixture, fixture_bytes, fixture_names, guess_mime,
                          multipart, sha256)

MAX_BYTES = 700000  # larger than every fixture (the largest is 566676 bytes)


def pdf_page_count(data):
    """Page count by pdfinfo (poppler-utils) when installed; else from the page tree's
    /Count when it is readable without decompression; else None."""
    if not shutil.which("pdfinfo"):
        counts = re.findall(rb"/Type\s*/Pages\b[^>]*?/Count\s+(\d+)", data)
        counts += re.findall(rb"/Count\s+(\d+)[^>]*?/Type\s*/Pages\b", data)
        leaves = len(re.findall(rb"/Type\s*/Page\b(?!s)", data))
        if counts:
            return max(int(c) for c in counts)
        return leaves or None
    with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
        f.write(data)
        f.flush()
        out = subprocess.run(["pdfinfo", f.name], capture_output=True, timeout=30)
    m = re.search(rb"^Pages:\s+(\d+)", out.stdout, re.M)
    assert out.returncode == 0 and m, "pdfinfo failed: %r %r" % (out.stdout, out.stderr)
    return int(m.group(1))


class UploadTest(FaxdTestCase):
    faxd_env = {"FAXD_FAX_MAX_BYTES": str(MAX_BYTES)}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.acct = cls.faxd.new_account()

    def check_stored(self, path, data, filename=None):
        row = self.faxd.upload_row(path)
        self.assertEqual(row["uid"], self.acct["uid"])
        self.assertEqual(row["size"], len(data))
        self.assertEqual(row["sha256"].lower(), sha256(data))
        self.assertNotIn("..", row["blob"])
        self.assertFalse(os.path.isabs(row["blob"]), row["blob"])
        blob = self.faxd.blob_path(row["blob"])
        real = os.path.realpath(blob)
        self.assertTrue(real.startswith(os.path.realpath(self.faxd.data_dir) + os.sep), real)
        with open(blob, "rb") as f:
            self.assertEqual(sha256(f.read()), sha256(data))
        if filename is not None:
            self.assertEqual(row["name"], filename)
        return row

    def test_u1_every_fixture_byte_exact(self):
        paths = set()
        for name in fixture_names():
            with self.subTest(fixture=name):
                data = fixture_bytes(name)
                path = self.upload_ok(self.acct["token"], data, name, guess_mime(name))
                self.assertNotIn(path, paths)
                paths.add(path)
                self.check_stored(path, data, name)

    def test_u1_format_query(self):
        data = fixture_bytes("letter_a4.pdf")
        for fmt in ("pdf", "tiff"):
            with self.subTest(format=fmt):
                path = self.upload_ok(self.acct["token"], data, "letter_a4.pdf",
                                      query={"format": fmt})
                self.check_stored(path, data)
        for fmt in ("docx", "PDF", "", "tif"):
            with self.subTest(format=fmt):
                r = self.faxd.upload(self.acct["token"], data, "letter_a4.pdf",
                                     query={"format": fmt})
                self.assertError(r, 400, "invalid_request")

    def test_u1_own_uid_path(self):
        path = self.upload_ok(self.acct["token"], b"hello\n", "a.txt", user=self.acct["uid"])
        self.check_stored(path, b"hello\n")

    def test_u1_missing_part(self):
        tok = self.acct["token"]
        body, ct = multipart([("other", "x.pdf", "application/pdf", b"%PDF-1.4\n")])
        self.assertError(self.req("POST", "/accounts/self/files", token=tok, body=body,
                                  headers={"Content-Type": ct}), 400)
        # what the Python SDK sends when no file is given: an empty multipart body
        body, ct = multipart([])
        self.assertError(self.req("POST", "/accounts/self/files", token=tok, body=body,
                                  headers={"Content-Type": ct}), 400)
        # not multipart at all
        self.assertError(self.req("POST", "/accounts/self/files", token=tok,
                                  body={"fax_file": "abc"}), 400)
        self.assertError(self.req("POST", "/accounts/self/files", token=tok, body=b"raw bytes",
                                  headers={"Content-Type": "application/octet-stream"}), 400)
        self.assertError(self.req("POST", "/accounts/self/files", token=tok), 400)
        self.assertAlive(tok)

    def test_u1_too_large(self):
        tok = self.acct["token"]
        data = os.urandom(MAX_BYTES + 1)
        r = self.faxd.upload(tok, data, "big.pdf", "application/pdf")
        self.assertError(r, 413, "payload_too_large")
        ok = os.urandom(MAX_BYTES)  # exactly the cap is accepted
        path = self.upload_ok(tok, ok, "exact.bin", "application/octet-stream")
        self.check_stored(path, ok)
        self.assertAlive(tok)

    def test_u1_truncated_multipart(self):
        tok = self.acct["token"]
        body, ct = multipart([("fax_file", "t.pdf", "application/pdf",
                               fixture_bytes("letter_a4.pdf"))])
        head = ("POST /v3/accounts/self/files HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                "Authorization: Bearer %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n"
                "Connection: close\r\n\r\n")
        # 1. the connection ends before Content-Length bytes arrived (faxd may answer 4xx,
        #    close, or wait for the rest: then we give up after 2 s and hang up)
        status, got = self.faxd.raw((head % (tok, ct, len(body))).encode() + body[:len(body) // 2],
                                    timeout=2)
        self.assertTrue(status is None or 400 <= status < 500, got[:300])
        # 2. a complete HTTP body whose multipart has no closing boundary
        cut = body[:len(body) // 2]
        status, got = self.faxd.raw((head % (tok, ct, len(cut))).encode() + cut)
        self.assertTrue(status is None or 400 <= status < 500, got[:300])
        # 3. a part without its blank line / headers finished
        cut = body[:body.index(b"\r\n\r\n") - 5]
        status, got = self.faxd.raw((head % (tok, ct, len(cut))).encode() + cut)
        self.assertTrue(status is None or 400 <= status < 500, got[:300])
        self.assertAlive(tok)

    def test_u1_path_traversal_filename(self):
        tok = self.acct["token"]
        names = ["../../etc/passwd", "../../../../escape_probe", "/etc/faxd_probe",
                 "..\\..\\win_probe", "a/../../b_probe", "..", "r\u00e9sum\u00e9 \u2713.pdf",
                 "%2e%2e%2f%2e%2e%2fpct_probe", "name;with=odd chars.pdf"]
        for name in names:
            with self.subTest(filename=name):
                data = b"probe " + name.encode()
                path = self.upload_ok(tok, data, name, "text/plain")
                self.check_stored(path, data)
        # nothing was written outside the data dir
        outside = []
        for dirpath, dirnames, filenames in os.walk(self.faxd.root):
            if os.path.realpath(dirpath).startswith(os.path.realpath(self.faxd.data_dir)):
                continue
            outside += [os.path.join(dirpath, n) for n in filenames if n != "faxd.stderr"]
            outside += [os.path.join(dirpath, d) for d in dirnames if d != "data"]
        self.assertEqual(outside, [])
        for p in ("/etc/faxd_probe", "/escape_probe", "/tmp/escape_probe", "/b_probe"):
            self.assertFalse(os.path.exists(p), p)
        self.assertAlive(tok)


class DownloadTest(FaxdTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        f = cls.faxd
        cls.acct = f.new_account(number=True)
        cls.tiff = fixture_bytes("fax_g3_fine.tif")
        cls.fax = f.import_fax(cls.acct["uid"], fixture("fax_g3_fine.tif"), frm="+12025550701",
                               to=cls.acct["number"], direction="incoming", pages=2)
        cls.other = f.new_account()

    def get_file(self, ident, query=None, headers=None, token=None, user="self"):
        return self.req("GET", "/accounts/%s/files/%s" % (user, ident),
                        token=token or self.acct["token"], query=query, headers=headers)

    def assertDisposition(self, r, ext):
        cd = r.header("Content-Disposition", "")
        m = re.match(r'^attachment;\s*filename="([^"]+)"$', cd)
        self.assertTrue(m, "Content-Disposition: %r" % cd)
        stem = self.fax["file"].rsplit(".", 1)[0]
        self.assertIn(m.group(1), (self.fax["id"] + "." + ext, stem + "." + ext), cd)

    def assertPdf(self, r, pages=2):
        self.assertStatus(r, 200)
        self.assertEqual(r.ctype.split(";")[0].strip(), "application/pdf", repr(r))
        self.assertTrue(r.body.startswith(b"%PDF"), r.body[:20])
        n = pdf_page_count(r.body)
        if n is not None:
            self.assertEqual(n, pages)

    def test_u2_tiff_exact_bytes(self):
        for ident in (self.fax["id"], self.fax["file"]):
            with self.subTest(ident=ident):
                r = self.get_file(ident, {"format": "tiff"})
                self.assertStatus(r, 200)
                self.assertEqual(r.ctype.split(";")[0].strip(), "image/tiff")
                self.assertEqual(sha256(r.body), sha256(self.tiff))
                self.assertDisposition(r, "tiff")

    def test_u2_tiff_with_own_uid_and_sdk_headers(self):
        r = self.get_file(self.fax["id"], {"format": "tiff"}, user=self.acct["uid"],
                          headers={"Accept": "application/json",
                                   "Content-Type": "application/json",
                                   "User-Agent": "faxplus-sdk/python/3.0.4"})
        self.assertStatus(r, 200)
        self.assertEqual(sha256(r.body), sha256(self.tiff))

    def test_u2_pdf(self):
        for ident in (self.fax["id"], self.fax["file"]):
            with self.subTest(ident=ident):
                r = self.get_file(ident, {"format": "pdf"})
                self.assertPdf(r)
                self.assertDisposition(r, "pdf")

    def test_u2_default_is_pdf_with_json_accept(self):
        r = self.get_file(self.fax["id"], headers={"Accept": "application/json",
                                                   "Content-Type": "application/json"})
        self.assertPdf(r)
        r = self.get_file(self.fax["id"], headers={"Accept": "application/json, text/plain, */*"})
        self.assertPdf(r)
        r = self.get_file(self.fax["id"])
        self.assertPdf(r)

    def test_u2_accept_tiff_and_format_priority(self):
        r = self.get_file(self.fax["id"], headers={"Accept": "image/tiff"})
        self.assertStatus(r, 200)
        self.assertEqual(r.ctype.split(";")[0].strip(), "image/tiff")
        self.assertEqual(r.body, self.tiff)
        r = self.get_file(self.fax["id"], {"format": "pdf"}, headers={"Accept": "image/tiff"})
        self.assertPdf(r)

    def test_u2_bad_format(self):
        for fmt in ("bogus", "png", ""):
            with self.subTest(format=fmt):
                self.assertError(self.get_file(self.fax["id"], {"format": fmt}), 400,
                                 "invalid_request")

    def test_u2_unknown(self):
        for ident in ("0" * 32, "0" * 32 + ".tiff", "nothing", "..%2F..%2Fetc%2Fpasswd"):
            with self.subTest(ident=ident):
                r = self.get_file(ident, {"format": "tiff"})
                self.assertError(r, 404, "not_found")
                self.assertNotIn(b"root:", r.body)

    def test_u2_other_account(self):
        for ident in (self.fax["id"], self.fax["file"]):
            with self.subTest(ident=ident):
                self.assertError(self.get_file(ident, {"format": "tiff"},
                                               token=self.other["token"]), 404, "not_found")
                self.assertError(self.get_file(ident, {"format": "pdf"},
                                               token=self.other["token"]), 404, "not_found")
        self.assertError(self.get_file(self.fax["id"], {"format": "tiff"},
                                       token=self.other["token"], user=self.acct["uid"]), 403,
                         "forbidden")

    def test_u3_report(self):
        for extra in ({}, {"Accept": "application/json", "Content-Type": "application/json"}):
            with self.subTest(headers=extra):
                r = self.req("GET", "/accounts/self/report/" + self.fax["id"],
                             token=self.acct["token"], headers=extra)
                self.assertStatus(r, 200)
                self.assertEqual(r.ctype.split(";")[0].strip(), "application/pdf")
                self.assertTrue(r.body.startswith(b"%PDF"), r.body[:20])
        r = self.req("GET", "/accounts/%s/report/%s" % (self.acct["uid"], self.fax["id"]),
                     token=self.acct["token"])
        self.assertStatus(r, 200)

    def test_u3_unknown_and_other(self):
        self.assertError(self.req("GET", "/accounts/self/report/" + "0" * 32,
                                  token=self.acct["token"]), 404, "not_found")
        self.assertError(self.req("GET", "/accounts/self/report/" + self.fax["id"],
                                  token=self.other["token"]), 404, "not_found")


if __name__ == "__main__":
    unittest.main()
