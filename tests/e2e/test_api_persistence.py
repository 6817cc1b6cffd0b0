"""Persistence: everything acknowledged survives a SIGTERM restart and a kill -9 restart."""

import unittest
import time
import uuid

from faxd_harness import FaxdTestCase, fixture_bytes, sha256

PDF = fixture_bytes("letter_a4.pdf")
TIFF = fixture_bytes("fax_g3_fine.tif")


class PersistenceTest(FaxdTestCase):

    def get(self, token, path, query=None, model=None):
        return self.assertJson(self.req("GET", path, token=token, query=query), 200, model)

    def make_state(self):
        """Creates one of everything; returns (ids, snapshot function)."""
        f = self.faxd
        admin = self.new_account("corporate_admin", number=True)
        member = self.new_account("corporate_member", admin=admin["uid"])
        tok = admin["token"]
        self.assertEmptyOk(self.req("PUT", "/accounts/self", token=tok, body={
            "name": "Persist", "lastname": "Ence", "email": "p@example.com",
            "settings": {"caller_id_name": "Keep"}, "account_data": {"company_name": "KeepCo"}}))
        self.assertEmptyOk(self.req("PUT", "/accounts/self/member-details/" + member["uid"],
                                    token=tok, body={"quota": 42, "role": "ops"}))
        self.assertEmptyOk(self.req("PUT", "/accounts/self/numbers/%2B" + admin["number"][1:],
                                    token=tok, body={"assigned_to": member["uid"]}))
        fax = f.import_fax(admin["uid"], direction="incoming", to=admin["number"], pages=2,
                           file=None)
        self.assertEmptyOk(self.req("PUT", "/accounts/self/faxes/" + fax["id"], token=tok,
                                    body={"comment": "kept", "is_read": True}))
        path = self.upload_ok(tok, PDF, "letter_a4.pdf")
        text = "persist-" + uuid.uuid4().hex
        ids = self.send_ok(tok, {"from": admin["number"], "to": ["+12025550901", "abc"],
                                 "files": [path], "return_ids": True,
                                 "comment": {"text": text, "tags": ["p"]},
                                 "send_time": "2031-05-06 07:08:09 +0000"})["ids"]
        # Let the conversion finish (the fax is due in 2031, so it then stays put) before
        # the state is compared across the restart.
        deadline = time.monotonic() + 60
        while True:
            recs = self.get(tok, "/accounts/self/outbox", model="OutboxList")["records"]
            self.assertEqual(len(recs), 1)
            if recs[0]["status"] == "scheduled_for_sending" or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual(recs[0]["status"], "scheduled_for_sending")
        hook = self.assertJson(self.req("POST", "/hooks", token=tok, body={
            "target": "https://persist.example.com/h", "event": "fax_received"}), 200,
            "WebhookId")["id"]
        st = {"admin": admin, "member": member, "fax": fax, "path": path, "ids": ids,
              "outbox_id": recs[0]["id"], "hook": hook}
        return st

    def snapshot(self, st):
        tok = st["admin"]["token"]
        return {
            "account": self.get(tok, "/accounts/self", model="Account"),
            "members": self.get(tok, "/accounts", model="AccountList"),
            "member_details": self.get(tok, "/accounts/self/member-details/" +
                                       st["member"]["uid"], model="MemberDetail"),
            "numbers": self.get(tok, "/accounts/self/numbers", model="NumberList"),
            "member_numbers": self.get(st["member"]["token"], "/accounts/self/numbers",
                                       model="NumberList"),
            "fax": self.get(tok, "/accounts/self/faxes/" + st["fax"]["id"], model="Fax"),
            "invalid": self.get(tok, "/accounts/self/faxes/" + st["ids"]["abc"], model="Fax"),
            "faxes": self.get(tok, "/accounts/self/faxes", model="FaxList"),
            "outbox": self.get(tok, "/accounts/self/outbox/" + st["outbox_id"], model="Outbox"),
            "hooks": self.get(tok, "/hooks", {"event": "fax_received"}, model="WebhookList"),
            "upload": self.faxd.upload_row(st["path"]),
        }

    def check_upload_intact(self, st, data):
        row = self.faxd.upload_row(st["path"])
        self.assertEqual(row["sha256"].lower(), sha256(data))
        self.assertEqual(row["size"], len(data))
        with open(self.faxd.blob_path(row["blob"]), "rb") as fh:
            self.assertEqual(sha256(fh.read()), sha256(data))
        # still usable in a send
        self.send_ok(st["admin"]["token"], {"from": "no_number", "to": ["+12025550999"],
                                            "files": [st["path"]]})

    def test_sigterm_restart(self):
        st = self.make_state()
        before = self.snapshot(st)
        self.assertEqual(before["account"]["name"], "Persist")
        self.assertEqual(before["member_details"], {"quota": 42, "role": "ops"})
        self.assertEqual(before["fax"]["comment"], "kept")
        self.assertEqual(before["outbox"]["comment"]["text"][:8], "persist-")
        self.faxd.restart()  # asserts exit code 0 on SIGTERM
        after = self.snapshot(st)
        self.assertEqual(after, before)
        # the TIFF of the imported fax is still downloadable byte-exact
        r = self.req("GET", "/accounts/self/files/" + st["fax"]["id"], token=st["admin"]["token"],
                     query={"format": "tiff"})
        self.assertStatus(r, 200)
        self.assertEqual(sha256(r.body), sha256(fixture_bytes("fax_g3_normal.tif")))
        self.check_upload_intact(st, PDF)
        self.faxd.restart()
        self.assertAlive(st["admin"]["token"])

    def test_kill9_after_each_acknowledged_write(self):
        a = self.new_account(number=True)
        tok = a["token"]
        # upload acknowledged, then kill -9
        path = self.upload_ok(tok, TIFF, "fax.tif")
        self.faxd.kill9()
        self.faxd.start()
        st = {"admin": a, "path": path}
        self.check_upload_intact(st, TIFF)
        # account update acknowledged, then kill -9
        self.assertEmptyOk(self.req("PUT", "/accounts/self", token=tok, body={"name": "K9"}))
        self.faxd.kill9()
        self.faxd.start()
        self.assertEqual(self.get(tok, "/accounts/self", model="Account")["name"], "K9")
        # send acknowledged, then kill -9
        text = "k9-" + uuid.uuid4().hex
        # Due in 2031, so it is still in the outbox after the restart (not yet dialled).
        ids = self.send_ok(tok, {"from": a["number"], "to": ["+12025550911", "12"],
                                 "files": [path], "return_ids": True,
                                 "send_time": "2031-01-01 00:00:00 +0000",
                                 "comment": {"text": text, "tags": []}})["ids"]
        self.faxd.kill9()
        self.faxd.start()
        recs = [r for r in self.get(tok, "/accounts/self/outbox", model="OutboxList")["records"]
                if r["comment"]["text"] == text]
        self.assertEqual(len(recs), 1)
        self.assertEqual(recs[0]["to"], ["+12025550911"])
        self.assertEqual(recs[0]["files"], [path])
        fx = self.get(tok, "/accounts/self/faxes/" + ids["12"], model="Fax")
        self.assertEqual(fx["status"], "failed_invalid_number_format")
        # fax update and hook acknowledged, then kill -9
        self.assertEmptyOk(self.req("PUT", "/accounts/self/faxes/" + ids["12"], token=tok,
                                    body={"comment": "after-k9", "is_read": True}))
        hook = self.assertJson(self.req("POST", "/hooks", token=tok, body={
            "target": "https://k9.example.com/", "event": "fax_sent"}), 200, "WebhookId")["id"]
        self.faxd.kill9()
        self.faxd.start()
        fx = self.get(tok, "/accounts/self/faxes/" + ids["12"], model="Fax")
        self.assertEqual((fx["comment"], fx["is_read"]), ("after-k9", True))
        self.assertEqual([h["id"] for h in self.get(tok, "/hooks", {"event": "fax_sent"},
                                                     model="WebhookList")["data"]], [hook])
        # deletes acknowledged, then kill -9
        self.assertEmptyOk(self.req("DELETE", "/accounts/self/outbox/" + recs[0]["id"],
                                    token=tok))
        self.assertEmptyOk(self.req("DELETE", "/hooks/" + hook, token=tok))
        self.faxd.kill9()
        self.faxd.start()
        self.assertError(self.req("GET", "/accounts/self/outbox/" + recs[0]["id"], token=tok),
                         404, "not_found")
        self.assertEqual(self.get(tok, "/hooks", {"event": "fax_sent"},
                                  model="WebhookList")["data"], [])
        self.assertAlive(tok)


if __name__ == "__main__":
    unittest.main()
