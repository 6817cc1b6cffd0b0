"""Webhook delivery (issue 6 point 7): fax_sent for every final outgoing record and
fax_received for every stored inbound fax, with the API.md §7 payload, signed with the
account's secret (checked with `openssl dgst`), retried on non-2xx with backoff, refused
on private addresses unless allowed, persisted across kill -9, and listed through
GET /v3/hooks/{hook_id}/deliveries. Receivers are real HTTP servers on 127.0.0.1."""

import http.server
import json
import socket
import subprocess
import threading
import time

from faxd_harness import Faxd, FaxdTestCase, fixture_bytes, main

DOC = "letter.txt"
BUSY = "+15550000002"


class Receiver:
    """An HTTP server on 127.0.0.1 recording every POST. codes: statuses answered in
    order, then `default`."""

    def __init__(self, codes=(), default=200):
        self.codes = list(codes)
        self.default = default
        self.requests = []  # dicts: path, headers, body, answered
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                with outer.lock:
                    code = outer.codes.pop(0) if outer.codes else outer.default
                    outer.requests.append({"path": self.path, "headers": dict(self.headers),
                                           "body": body, "answered": code})
                self.send_response(code)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def got(self, path=None):
        with self.lock:
            return [r for r in self.requests if path is None or r["path"] == path]

    def wait(self, path, count, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.got(path)) >= count:
                return self.got(path)
            time.sleep(0.1)
        raise AssertionError("receiver got %d requests on %s, wanted %d" % (
            len(self.got(path)), path, count))

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class RawReceiver:
    """A TCP server on 127.0.0.1 that reads each request and then either never answers
    (mode "hang", holding the connection open) or closes without a word ("close")."""

    def __init__(self, mode):
        self.mode = mode
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.requests = 0
        self.held = []
        self.lock = threading.Lock()
        self.stop = False
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            c.settimeout(5)
            try:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = c.recv(65536)
                    if not chunk:
                        break
                    data += chunk
            except OSError:
                pass
            with self.lock:
                self.requests += data.startswith(b"POST")
            if self.mode == "hang":
                self.held.append(c)
            else:
                c.close()

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def count(self):
        with self.lock:
            return self.requests

    def close(self):
        self.stop = True
        self.sock.close()
        for c in self.held:
            c.close()


def openssl_hmac(secret, text):
    out = subprocess.run(["openssl", "dgst", "-sha256", "-hmac", secret], input=text,
                         capture_output=True, check=True).stdout.decode()
    return out.strip().split()[-1]


class WebhookMixin:
    def hook(self, faxd, token, target, event):
        r = faxd.req("POST", "/hooks", token=token, body={"target": target, "event": event})
        self.assertEqual(r.status, 200, r)
        return r.json()["id"]

    def deliveries(self, faxd, token, hook_id):
        r = faxd.req("GET", "/hooks/%s/deliveries" % hook_id, token=token)
        self.assertEqual(r.status, 200, r)
        return r.json()["data"]

    def wait_deliveries(self, faxd, token, hook_id, pred, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ds = self.deliveries(faxd, token, hook_id)
            if ds and pred(ds):
                return ds
            time.sleep(0.2)
        self.fail("deliveries never matched: %r\n%s" % (
            self.deliveries(faxd, token, hook_id), faxd.stderr_tail(3000)))

    def send_fax(self, faxd, acct, to):
        r = faxd.upload(acct["token"], fixture_bytes(DOC), filename=DOC)
        self.assertEqual(r.status, 200, r)
        payload = {"from": acct["number"], "to": [to], "files": [r.json()["path"]],
                   "return_ids": True}
        r = faxd.req("POST", "/accounts/self/outbox", token=acct["token"], body=payload)
        self.assertEqual(r.status, 201, r)
        return r.json()["ids"][to]


class WebhookTest(WebhookMixin, FaxdTestCase):
    faxd_env = {"FAXD_WEBHOOK_ALLOW_PRIVATE": "on", "FAXD_WEBHOOK_RETRY_BASE": "1"}

    def setUp(self):
        self.rx = Receiver()
        self.addCleanup(self.rx.close)

    def test_own_number_fires_one_sent_and_one_received_signed(self):
        acct = self.new_account(number=True)
        tok = acct["token"]
        secret = self.faxd.faxctl("account", "show", "--account", acct["uid"])["webhook_secret"]
        self.assertRegex(secret, r"^whsec_[0-9a-f]{64}$")
        h_sent = self.hook(self.faxd, tok, self.rx.url("/sent"), "fax_sent")
        h_recv = self.hook(self.faxd, tok, self.rx.url("/recv"), "fax_received")
        fax_id = self.send_fax(self.faxd, acct, acct["number"])
        sent = self.rx.wait("/sent", 1, timeout=120)
        recv = self.rx.wait("/recv", 1, timeout=120)
        time.sleep(2.5)  # nothing more may come
        self.assertEqual(len(self.rx.got("/sent")), 1)
        self.assertEqual(len(self.rx.got("/recv")), 1)

        body = json.loads(sent[0]["body"])
        self.assertEqual(body["hook"]["id"], fax_id)
        self.assertEqual(body["hook"]["event"], "fax_sent")
        self.assertEqual(body["hook"]["target"], self.rx.url("/sent"))
        self.assertRegex(body["hook"]["event_time"], r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
        d = body["data"]
        self.assertEqual(d["status"], "success")
        self.assertEqual(d["uid"], acct["uid"])
        self.assertEqual((d["from"], d["from_number"]), (acct["number"], acct["number"]))
        self.assertEqual((d["to"], d["to_number"]), (acct["number"], acct["number"]))
        self.assertIsInstance(d["pages"], int)
        self.assertGreaterEqual(d["pages"], 1)
        self.assertIsInstance(d["cost"], int)
        self.assertRegex(d["id"], r"^[0-9a-f]{32}$")
        self.assertNotEqual(d["id"], fax_id)  # the attempt (session) id
        for k in ("start_time", "file", "file_name"):
            self.assertIn(k, d)

        rbody = json.loads(recv[0]["body"])
        self.assertEqual(rbody["hook"]["event"], "fax_received")
        self.assertNotEqual(rbody["hook"]["id"], fax_id)
        self.assertEqual(rbody["data"]["status"], "success")
        r = self.req("GET", "/accounts/self/faxes/" + rbody["hook"]["id"], token=tok)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json()["direction"], "incoming")

        for req in (sent[0], recv[0]):
            h = {k.lower(): v for k, v in req["headers"].items()}
            self.assertTrue(h["content-type"].startswith("application/json"))
            ts = h["x-faxd-timestamp"]
            self.assertLess(abs(int(ts) - time.time()), 300)
            want = openssl_hmac(secret, ts.encode() + b"." + req["body"])
            self.assertEqual(h["x-faxd-signature"], want)

        for hid in (h_sent, h_recv):
            ds = self.deliveries(self.faxd, tok, hid)
            self.assertEqual(len(ds), 1)
            self.assertEqual((ds[0]["state"], ds[0]["attempts"], ds[0]["last_status"]),
                             ("done", 1, 200))
            self.assertIsNotNone(ds[0]["delivered"])

    def test_failed_fax_fires_and_500_is_retried(self):
        acct = self.new_account(number=True)
        tok = acct["token"]
        self.rx.codes = [500, 503]
        hid = self.hook(self.faxd, tok, self.rx.url("/busy"), "fax_sent")
        fax_id = self.send_fax(self.faxd, acct, BUSY)
        reqs = self.rx.wait("/busy", 3, timeout=120)
        self.assertEqual([r["answered"] for r in reqs[:3]], [500, 503, 200])
        for r in reqs[:3]:
            body = json.loads(r["body"])
            self.assertEqual(body["hook"]["id"], fax_id)
            self.assertEqual(body["data"]["status"], "failed_user_busy")
        ds = self.wait_deliveries(self.faxd, tok, hid, lambda ds: ds[0]["state"] == "done")
        self.assertEqual(len(ds), 1)
        self.assertEqual((ds[0]["fax_id"], ds[0]["event"], ds[0]["attempts"],
                          ds[0]["last_status"]), (fax_id, "fax_sent", 3, 200))
        time.sleep(2)
        self.assertEqual(len(self.rx.got("/busy")), 3)

    def test_hanging_and_closing_receivers_do_not_hold_up_others(self):
        hang, close = RawReceiver("hang"), RawReceiver("close")
        self.addCleanup(hang.close)
        self.addCleanup(close.close)
        acct = self.new_account(number=True)
        tok = acct["token"]
        h_hang = self.hook(self.faxd, tok, hang.url("/h"), "fax_sent")
        h_close = self.hook(self.faxd, tok, close.url("/c"), "fax_sent")
        h_ok = self.hook(self.faxd, tok, self.rx.url("/ok"), "fax_sent")
        fax_id = self.send_fax(self.faxd, acct, BUSY)
        # The healthy receiver is served while the hanging one still holds its request.
        self.rx.wait("/ok", 1, timeout=120)
        self.assertEqual(hang.count(), 1)
        ds = self.deliveries(self.faxd, tok, h_hang)
        self.assertEqual((ds[0]["state"], ds[0]["attempts"]), ("pending", 0), ds)
        ok = self.wait_deliveries(self.faxd, tok, h_ok, lambda ds: ds[0]["state"] == "done")
        self.assertEqual(ok[0]["fax_id"], fax_id)
        # A connection closed without an answer is a failed attempt, retried.
        ds = self.wait_deliveries(self.faxd, tok, h_close, lambda ds: ds[0]["attempts"] >= 2)
        self.assertEqual((ds[0]["state"], ds[0]["last_status"]), ("pending", 0))
        self.assertTrue(ds[0]["last_error"], ds)
        self.assertGreaterEqual(close.count(), 2)
        # The hanging request ends at faxd's request timeout and is retried later.
        ds = self.wait_deliveries(self.faxd, tok, h_hang, lambda ds: ds[0]["attempts"] >= 1)
        self.assertEqual(ds[0]["state"], "pending")
        self.assertIn("timed out", ds[0]["last_error"].lower())

    def test_deliveries_are_owner_only(self):
        a, b = self.new_account(), self.new_account()
        hid = self.hook(self.faxd, a["token"], self.rx.url("/x"), "fax_sent")
        self.assertEqual(self.deliveries(self.faxd, a["token"], hid), [])
        r = self.req("GET", "/hooks/%s/deliveries" % hid, token=b["token"])
        self.assertEqual(r.status, 404)
        r = self.req("GET", "/hooks/%s/deliveries" % ("0" * 32), token=a["token"])
        self.assertEqual(r.status, 404)
        r = self.req("GET", "/hooks/%s/deliveries" % hid)
        self.assertEqual(r.status, 401)


class WebhookPrivateTargetTest(WebhookMixin, FaxdTestCase):
    """Default configuration: 127.0.0.1 is not an allowed target."""
    faxd_env = {"FAXD_WEBHOOK_RETRY_BASE": "1"}

    def test_loopback_target_is_refused(self):
        rx = Receiver()
        self.addCleanup(rx.close)
        acct = self.new_account(number=True)
        tok = acct["token"]
        hid = self.hook(self.faxd, tok, rx.url("/no"), "fax_sent")
        hid6 = self.hook(self.faxd, tok, "http://[::1]:%d/no" % rx.port, "fax_sent")
        self.send_fax(self.faxd, acct, BUSY)
        for h in (hid, hid6):
            ds = self.wait_deliveries(self.faxd, tok, h, lambda ds: ds[0]["attempts"] >= 2)
            self.assertIn(ds[0]["state"], ("pending", "failed"))
            self.assertEqual(ds[0]["last_error"], "address not allowed")
            self.assertEqual(ds[0]["last_status"], 0)
        self.assertEqual(rx.got(), [])


class WebhookRestartTest(WebhookMixin, FaxdTestCase):
    faxd_env = {"FAXD_WEBHOOK_ALLOW_PRIVATE": "on", "FAXD_WEBHOOK_RETRY_BASE": "1"}

    def test_delivery_survives_kill9(self):
        rx = Receiver(default=500)
        self.addCleanup(rx.close)
        acct = self.new_account(number=True)
        tok = acct["token"]
        hid = self.hook(self.faxd, tok, rx.url("/r"), "fax_sent")
        fax_id = self.send_fax(self.faxd, acct, BUSY)
        rx.wait("/r", 1, timeout=120)
        self.faxd.kill9()
        rx.default = 200
        self.faxd.start()
        reqs = rx.wait("/r", 2, timeout=120)
        ds = self.wait_deliveries(self.faxd, tok, hid, lambda ds: ds[0]["state"] == "done")
        time.sleep(2.5)
        reqs = rx.got("/r")
        self.assertEqual([r["answered"] for r in reqs].count(200), 1, reqs)
        self.assertTrue(all(json.loads(r["body"])["hook"]["id"] == fax_id for r in reqs))
        self.assertEqual(len(ds), 1)
        self.assertEqual(ds[0]["last_status"], 200)


if __name__ == "__main__":
    main()
