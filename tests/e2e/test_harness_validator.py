"""Self-test of the harness's SDK validator: it must reject what the Python SDK rejects
(otherwise every e2e test that relies on it could pass vacuously). No faxd needed."""

import copy
import unittest

from faxd_harness import validate

ACCOUNT = {"uid": "a" * 32, "account_type": "individual", "status": "active", "email": "",
           "creation_date": "2024-01-02 03:04:05"}
FAX = {"id": "b" * 32, "owner_id": "a" * 32, "status": "success", "pages": 1, "comment": "",
       "cost_details": {}}
OUTBOX = {"id": "c" * 32, "uid": "a" * 32, "status": "submitted",
          "status_changes": [{"at": "2024-01-02 03:04:05", "status": "submitted"}]}
NUMBER = {"id": "d" * 32, "number": "+12025550100", "owner_id": "a" * 32, "assigned_to": [],
          "acquired_date": "2024-01-02 03:04:05", "status": "active"}
NOTIF = {"settings": {
    "email": {"low_credit": True, "new_feature": True, "receive_fax": True, "send_fax": True,
              "voicemail": True},
    "push_notifications": {"low_credit": True, "new_feature": True, "receive_fax": True,
                           "send_fax": True, "voicemail": True},
    "sms": {"low_credit": True, "new_feature": True, "receive_fax": True, "send_fax": True,
            "voicemail": True}}}


def mutate(obj, path, value=KeyError):
    o = copy.deepcopy(obj)
    cur = o
    for k in path[:-1]:
        cur = cur[k]
    if value is KeyError:
        del cur[path[-1]]
    else:
        cur[path[-1]] = value
    return o


class ValidatorTest(unittest.TestCase):

    def test_accepts_minimal_valid(self):
        validate("Account", ACCOUNT)
        validate("Account", dict(ACCOUNT, notifications=NOTIF, phone="", email="a@b.co"))
        validate("Fax", FAX)
        validate("Fax", dict(FAX, cover_page={"name_to": "a", "name_from": "b", "subject": "c"},
                             direction="incoming", expiration_date=None))
        validate("Outbox", OUTBOX)
        validate("Outbox", dict(OUTBOX, cover_page=None))
        validate("Number", NUMBER)
        validate("NumberList", {"numbers": [NUMBER]})
        validate("FaxList", {"data": {"records": [FAX]}})
        validate("WebhookList", {"data": [{"id": "x", "target": "https://e.com",
                                           "event": "fax_sent"}]})

    def test_rejects(self):
        bad = [
            ("Account", mutate(ACCOUNT, ["uid"])),
            ("Account", mutate(ACCOUNT, ["email"], None)),
            ("Account", mutate(ACCOUNT, ["status"], "enabled")),
            ("Account", mutate(ACCOUNT, ["account_type"], "admin")),
            ("Account", mutate(ACCOUNT, ["creation_date"], "2024-01-02T03:04:05Z")),
            ("Account", mutate(ACCOUNT, ["email"], "nope")),
            ("Account", mutate(ACCOUNT, ["phone"], "12ab")),
            ("Account", dict(ACCOUNT, notifications={})),
            ("Account", dict(ACCOUNT, notifications=mutate(NOTIF, ["settings", "sms",
                                                                   "voicemail"]))),
            ("Account", dict(ACCOUNT, member_of={})),
            ("Fax", mutate(FAX, ["comment"], None)),
            ("Fax", mutate(FAX, ["cost_details"])),
            ("Fax", mutate(FAX, ["status"], "in_progress")),
            ("Fax", mutate(FAX, ["pages"], "1")),
            ("Fax", mutate(FAX, ["pages"], -1)),
            ("Fax", dict(FAX, direction="inbound")),
            ("Fax", dict(FAX, cover_page={})),
            ("Fax", dict(FAX, is_read="false")),
            ("Outbox", dict(OUTBOX, cover_page={})),
            ("Outbox", mutate(OUTBOX, ["status"], "queued")),
            ("Outbox", mutate(OUTBOX, ["status_changes", 0, "at"], "yesterday")),
            ("Outbox", dict(OUTBOX, retry={"count": 4, "delay": 0})),
            ("Number", mutate(NUMBER, ["number"], "12025550100")),
            ("Number", mutate(NUMBER, ["assigned_to"], None)),
            ("Number", mutate(NUMBER, ["status"], "inactive")),
            ("NumberList", {}),
            ("OutboxList", {"records": None}),
            ("Webhook", {"target": "https://e.com", "event": "fax_page_received"}),
            ("WebhookId", {}),
            ("FilePath", {"path": 5}),
        ]
        for model, obj in bad:
            with self.subTest(model=model, obj=obj):
                with self.assertRaises(AssertionError):
                    validate(model, obj)


if __name__ == "__main__":
    unittest.main()
