"""Concurrency smoke test: many clients at once (writes included) all succeed, and every
acknowledged write is there afterwards (no lost updates, no 5xx from a busy store)."""

import threading
import unittest
import uuid

from faxd_harness import FaxdTestCase, fixture_bytes, sha256, validate

LETTER = fixture_bytes("letter.txt")
THREADS = 8
ROUNDS = 6


class ConcurrencyTest(FaxdTestCase):

    def test_parallel_clients(self):
        accts = [self.new_account() for _ in range(THREADS)]
        errors = []
        done = {}

        def worker(i):
            a = accts[i]
            tok = a["token"]
            mine = {"hooks": [], "paths": [], "texts": []}
            try:
                for n in range(ROUNDS):
                    r = self.faxd.upload(tok, LETTER, "l%d.txt" % n)
                    if r.status != 200:
                        raise AssertionError("upload: %r" % r)
                    path = r.json()["path"]
                    mine["paths"].append(path)
                    text = "c-%d-%d-%s" % (i, n, uuid.uuid4().hex)
                    r = self.faxd.req("POST", "/accounts/self/outbox", token=tok, body={
                        "from": "no_number", "to": ["+1202555%04d" % (n + 10 * i)],
                        "files": [path], "comment": {"text": text, "tags": []}})
                    if r.status != 201:
                        raise AssertionError("send: %r" % r)
                    mine["texts"].append(text)
                    r = self.faxd.req("POST", "/hooks", token=tok, body={
                        "target": "https://c.example.com/%d/%d" % (i, n), "event": "fax_sent"})
                    if r.status != 200:
                        raise AssertionError("hook: %r" % r)
                    mine["hooks"].append(r.json()["id"])
                    r = self.faxd.req("PUT", "/accounts/self", token=tok,
                                      body={"name": "n%d" % n})
                    if r.status != 200:
                        raise AssertionError("update: %r" % r)
                    for p in ("/accounts/self", "/accounts/self/outbox", "/accounts/self/faxes"):
                        r = self.faxd.req("GET", p, token=tok)
                        if r.status != 200:
                            raise AssertionError("get %s: %r" % (p, r))
                done[i] = mine
            except Exception as e:  # noqa: BLE001
                errors.append((i, e))

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertEqual(errors, [])
        self.assertEqual(len(done), THREADS)
        for i, a in enumerate(accts):
            tok, mine = a["token"], done[i]
            with self.subTest(account=i):
                acct = self.assertJson(self.req("GET", "/accounts/self", token=tok), 200,
                                       "Account")
                self.assertEqual(acct["name"], "n%d" % (ROUNDS - 1))
                hooks = self.assertJson(self.req("GET", "/hooks", token=tok,
                                                 query={"event": "fax_sent"}), 200,
                                        "WebhookList")["data"]
                self.assertEqual(sorted(h["id"] for h in hooks), sorted(mine["hooks"]))
                recs = self.assertJson(self.req("GET", "/accounts/self/outbox", token=tok), 200,
                                       "OutboxList")["records"]
                self.assertEqual(sorted(r["comment"]["text"] for r in recs),
                                 sorted(mine["texts"]))
                for r in recs:
                    validate("Outbox", r)
                    self.assertEqual(r["uid"], a["uid"])
                for p in mine["paths"]:
                    row = self.faxd.upload_row(p)
                    self.assertEqual(row["uid"], a["uid"])
                    self.assertEqual(row["sha256"].lower(), sha256(LETTER))
        self.assertAlive()


if __name__ == "__main__":
    unittest.main()
