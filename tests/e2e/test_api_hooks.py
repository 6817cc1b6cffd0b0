"""Webhooks: W1 create, W2 list by event, W3 delete."""

import unittest

from faxd_harness import HEX32, FaxdTestCase


class HooksTest(FaxdTestCase):

    def hooks(self, token, event):
        r = self.req("GET", "/hooks", token=token, query={"event": event})
        return self.assertJson(r, 200, "WebhookList")["data"]

    def create(self, token, target, event):
        r = self.req("POST", "/hooks", token=token, body={"target": target, "event": event})
        body = self.assertJson(r, 200, "WebhookId")
        self.assertRegex(body["id"], HEX32)
        return body["id"]

    def test_w1_w2_w3(self):
        a = self.new_account()
        tok = a["token"]
        self.assertEqual(self.hooks(tok, "fax_sent"), [])
        h1 = self.create(tok, "https://example.com/h", "fax_sent")
        h2 = self.create(tok, "http://hooks.example.org:8080/x?y=1", "fax_sent")
        h3 = self.create(tok, "https://example.com/r", "fax_received")
        self.assertEqual(len({h1, h2, h3}), 3)
        sent = self.hooks(tok, "fax_sent")
        self.assertEqual(sorted((h["id"], h["target"], h["event"]) for h in sent),
                         sorted([(h1, "https://example.com/h", "fax_sent"),
                                 (h2, "http://hooks.example.org:8080/x?y=1", "fax_sent")]))
        recv = self.hooks(tok, "fax_received")
        self.assertEqual([(h["id"], h["target"], h["event"]) for h in recv],
                         [(h3, "https://example.com/r", "fax_received")])
        self.assertEmptyOk(self.req("DELETE", "/hooks/" + h1, token=tok))
        self.assertEqual([h["id"] for h in self.hooks(tok, "fax_sent")], [h2])
        self.assertError(self.req("DELETE", "/hooks/" + h1, token=tok), 404, "not_found")
        self.assertEqual([h["id"] for h in self.hooks(tok, "fax_received")], [h3])

    def test_w2_only_mine(self):
        a, b = self.new_account(), self.new_account()
        ha = self.create(a["token"], "https://a.example.com/", "fax_sent")
        hb = self.create(b["token"], "https://b.example.com/", "fax_sent")
        self.assertEqual([h["id"] for h in self.hooks(a["token"], "fax_sent")], [ha])
        self.assertEqual([h["id"] for h in self.hooks(b["token"], "fax_sent")], [hb])

    def test_w1_bad_values(self):
        a = self.new_account()
        bad = [
            {"target": "ftp://example.com/h", "event": "fax_sent"},
            {"target": "example.com/h", "event": "fax_sent"},
            {"target": "not a url", "event": "fax_sent"},
            {"target": "", "event": "fax_sent"},
            {"target": "javascript:alert(1)", "event": "fax_sent"},
            {"target": "https://example.com/h", "event": "fax_page_received"},
            {"target": "https://example.com/h", "event": "FAX_SENT"},
            {"target": "https://example.com/h", "event": ""},
            {"target": "https://example.com/h"},
            {"event": "fax_sent"},
            {"target": 5, "event": "fax_sent"},
            {"target": "https://example.com/h", "event": ["fax_sent"]},
        ]
        for b in bad:
            with self.subTest(body=b):
                r = self.req("POST", "/hooks", token=a["token"], body=b)
                self.assertError(r, 400, "invalid_request")
        self.assertEqual(self.hooks(a["token"], "fax_sent"), [])
        self.assertEqual(self.hooks(a["token"], "fax_received"), [])

    def test_w1_id_is_output_only(self):
        a = self.new_account()
        r = self.req("POST", "/hooks", token=a["token"],
                     body={"id": "f" * 32, "target": "https://example.com/h", "event": "fax_sent"})
        if r.status == 200:
            hid = self.assertJson(r, 200, "WebhookId")["id"]
            self.assertNotEqual(hid, "f" * 32)
        else:
            self.assertError(r, 400, "invalid_request")

    def test_w2_bad_event(self):
        a = self.new_account()
        for q in (None, {"event": "bogus"}, {"event": ""}, {"event": "FAX_SENT"}):
            with self.subTest(query=q):
                self.assertError(self.req("GET", "/hooks", token=a["token"], query=q), 400,
                                 "invalid_request")

    def test_w3_other_account(self):
        a, b = self.new_account(), self.new_account()
        ha = self.create(a["token"], "https://a.example.com/", "fax_received")
        self.assertError(self.req("DELETE", "/hooks/" + ha, token=b["token"]), 404, "not_found")
        self.assertEqual([h["id"] for h in self.hooks(a["token"], "fax_received")], [ha])
        for hid in ("0" * 32, "nothex"):
            with self.subTest(hid=hid):
                self.assertError(self.req("DELETE", "/hooks/" + hid, token=a["token"]), 404,
                                 "not_found")


if __name__ == "__main__":
    unittest.main()
