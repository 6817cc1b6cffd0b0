"""Health checks and draining, against a real faxd: /healthz and /readyz answer without a
token and reveal nothing else; SIGUSR1 drains the node (readiness 503, no new conversions
or calls, a call in progress runs to its end) and SIGUSR2 takes work again."""

import os
import signal
import subprocess
import time

import unittest

from faxd_harness import FAXD_BIN, PG_BASE, FaxdTestCase, _pg_admin, fixture_bytes, main

DOC = "letter_a4.pdf"


class Probes:
    """Helpers shared by the test cases below."""

    def probe(self, path):
        return self.req("GET", path, prefix="")

    def wait_ready(self, want, timeout=10, says=None):
        """/readyz once it answers want (and its description holds says), or when
        timeout passes (the caller asserts)."""
        deadline = time.monotonic() + timeout
        while True:
            r = self.probe("/readyz")
            if (r.status == want and (says is None or says in r.json().get("description", ""))
                    or time.monotonic() > deadline):
                return r
            time.sleep(0.1)

    def submit(self, acct):
        r = self.faxd.upload(acct["token"], fixture_bytes(DOC), filename=DOC)
        path = self.assertJson(r, 200, "FilePath")["path"]
        payload = {"from": acct["number"], "to": [acct["number"]], "files": [path],
                   "return_ids": True}
        return self.send_ok(acct["token"], payload)["ids"][acct["number"]]

    def outbox(self, acct):
        return self.assertJson(self.req("GET", "/accounts/self/outbox", token=acct["token"]),
                               200, "OutboxList")["records"]


class HealthTest(Probes, FaxdTestCase):

    def test_probes_need_no_token_and_say_only_ok(self):
        for path in ("/healthz", "/v3/healthz", "/readyz", "/v3/readyz"):
            with self.subTest(path=path):
                r = self.probe(path)
                self.assertEqual(self.assertJson(r, 200), {"status": "ok"})
        # A wrong token changes nothing (probes never authenticate); other routes still do.
        r = self.req("GET", "/healthz", prefix="", token="nope")
        self.assertEqual(self.assertJson(r, 200), {"status": "ok"})
        self.assertError(self.req("GET", "/openapi.json"), 401)
        self.assertError(self.req("POST", "/readyz", prefix=""), 405)

    def test_drain_holds_new_work_until_undrained(self):
        acct = self.new_account(number=True)
        # `faxctl drain` finds the running faxd through its pid file and signals it.
        self.assertEqual(self.faxctl("drain"), {"pid": self.faxd.proc.pid, "draining": True})
        try:
            r = self.wait_ready(503)
            self.assertError(r, 503, "unavailable")
            self.assertIn("draining", r.json()["description"])
            self.assertEqual(self.assertJson(self.probe("/healthz"), 200), {"status": "ok"})
            # The API still takes the fax; this node converts and dials nothing.
            fax_id = self.submit(acct)
            before = self.outbox(acct)
            time.sleep(3)
            after = self.outbox(acct)
            self.assertEqual([x["status"] for x in after], [x["status"] for x in before])
            self.assertNotIn(after[0]["status"], ("sending",), after)
            r = self.req("GET", "/accounts/self/faxes/" + fax_id, token=acct["token"])
            self.assertEqual(r.status, 404, r)
        finally:
            self.assertEqual(self.faxctl("undrain"),
                             {"pid": self.faxd.proc.pid, "draining": False})
        self.assertEqual(self.assertJson(self.wait_ready(200), 200), {"status": "ok"})
        fax = self.wait_fax(acct["token"], fax_id)
        self.assertEqual(fax["status"], "success", fax)
        self.assertIn("undrained", self.faxd.stderr_text())

    @unittest.skipUnless(PG_BASE, "needs the PostgreSQL store")
    def test_not_ready_while_the_database_refuses_connections(self):
        db = self.faxd.pg_db
        _pg_admin("ALTER DATABASE %s ALLOW_CONNECTIONS false" % db)
        try:
            _pg_admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE datname = '%s'" % db)
            r = self.wait_ready(503)
            self.assertError(r, 503, "unavailable")
            self.assertEqual(r.json()["description"], "The store does not answer")
            self.assertEqual(self.assertJson(self.probe("/healthz"), 200), {"status": "ok"})
        finally:
            _pg_admin("ALTER DATABASE %s ALLOW_CONNECTIONS true" % db)
        self.assertEqual(self.assertJson(self.wait_ready(200), 200), {"status": "ok"})


class PidFileTest(Probes, FaxdTestCase):
    def test_one_faxd_per_data_directory(self):
        # A second faxd on the same data directory would release the first one's leases
        # and dial their faxes again: it refuses to start, naming the running one.
        r = subprocess.run([FAXD_BIN], env=self.faxd.env(), stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 1, r)
        self.assertIn("another faxd (pid %d) is running" % self.faxd.proc.pid,
                      r.stderr.decode())
        self.assertEqual(self.assertJson(self.probe("/healthz"), 200), {"status": "ok"})
        # Once it is gone (even by kill -9), nothing holds the directory: faxctl finds no
        # faxd, and a new one starts.
        self.faxd.kill9()
        r = self.faxd.faxctl_raw("drain")
        self.assertEqual(r.returncode, 1, r)
        self.assertIn(b"no faxd is running", r.stderr)
        self.faxd.start()
        self.assertEqual(self.faxctl("undrain"), {"pid": self.faxd.proc.pid, "draining": False})


class DrainInProgressTest(Probes, FaxdTestCase):
    """Draining never hangs up: a real-time call in progress runs to its end."""
    faxd_env = {"FAXD_LINE_LOOPBACK_SPEED": "realtime"}

    def test_call_in_progress_finishes(self):
        acct = self.new_account(number=True)
        fax_id = self.submit(acct)
        deadline = time.monotonic() + 60
        while self.outbox(acct)[0]["status"] != "sending":
            self.assertLess(time.monotonic(), deadline, "the fax never started sending")
            time.sleep(0.2)
        os.kill(self.faxd.proc.pid, signal.SIGUSR1)
        r = self.wait_ready(503)
        self.assertError(r, 503, "unavailable")
        self.assertIn("outbound_calls=1", r.json()["description"])
        fax = self.wait_fax(acct["token"], fax_id, timeout=180)
        self.assertEqual(fax["status"], "success", fax)
        # The dialer counts the call until it has written the record the fax shows.
        r = self.wait_ready(503, says="outbound_calls=0")
        self.assertError(r, 503, "unavailable")
        self.assertIn("outbound_calls=0", r.json()["description"])
        os.kill(self.faxd.proc.pid, signal.SIGUSR2)
        self.assertEqual(self.wait_ready(200).status, 200)


if __name__ == "__main__":
    main()
