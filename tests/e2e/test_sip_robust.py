"""SIP robustness on the wire, with a raw UDP SIP peer written here: a trunk where
nothing listens fails over to the next trunk (and shows as the trunk's last error);
INVITEs from a
source that is no trunk get 403, unknown numbers 404, a broken SDP offer 400, none 488;
hundreds of malformed datagrams and mutated INVITEs never crash faxd; a call whose media
never flows is ended by the watchdog with BYE; a call in progress is ended with BYE when
faxd stops (SIGTERM)."""

import audioop
import math
import os
import random
import re
import signal
import socket
import struct
import time
import unittest
import uuid

from faxd_harness import main
from sip_harness import SipFaxd, free_udp_port, send_doc, trunk_conf, wait_fax

SDP = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
       "m=audio %d RTP/AVP 8 0\r\na=rtpmap:8 PCMA/8000\r\n")


class Peer:
    def __init__(self, ip="127.0.0.1"):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind((ip, 0))
        self.ip, self.port = self.s.getsockname()
        self.s.settimeout(5)

    def invite(self, target, user, sdp=None, raw_body=None, call_id=None):
        call_id = call_id or uuid.uuid4().hex
        body = raw_body if raw_body is not None else (sdp or "")
        msg = ("INVITE sip:%s@127.0.0.1:%d SIP/2.0\r\n"
               "Via: SIP/2.0/UDP %s:%d;branch=z9hG4bK%s;rport\r\n"
               "Max-Forwards: 70\r\nFrom: <sip:+14155550100@%s>;tag=%s\r\n"
               "To: <sip:%s@127.0.0.1>\r\nCall-ID: %s\r\nCSeq: 1 INVITE\r\n"
               "Contact: <sip:peer@%s:%d>\r\n%s"
               "Content-Length: %d\r\n\r\n%s") % (
            user, target, self.ip, self.port, uuid.uuid4().hex[:10], self.ip,
            uuid.uuid4().hex[:8], user, call_id, self.ip, self.port,
            "Content-Type: application/sdp\r\n" if body else "", len(body.encode()), body)
        self.s.sendto(msg.encode(), ("127.0.0.1", target))
        self.last_call = call_id
        return msg, call_id

    def options(self, target):
        """Sends an out-of-dialog OPTIONS (a dispatcher's probe); returns the status."""
        call_id = uuid.uuid4().hex
        msg = ("OPTIONS sip:127.0.0.1:%d SIP/2.0\r\n"
               "Via: SIP/2.0/UDP %s:%d;branch=z9hG4bK%s;rport\r\n"
               "Max-Forwards: 70\r\nFrom: <sip:probe@%s>;tag=%s\r\n"
               "To: <sip:127.0.0.1:%d>\r\nCall-ID: %s\r\nCSeq: 1 OPTIONS\r\n"
               "Content-Length: 0\r\n\r\n") % (
            target, self.ip, self.port, uuid.uuid4().hex[:10], self.ip, uuid.uuid4().hex[:8],
            target, call_id)
        self.s.sendto(msg.encode(), ("127.0.0.1", target))
        code, _ = self.final(call_id)
        return code

    def final(self, call_id=None, timeout=10):
        """The first final response (status >= 200) to call_id (default: the last
        INVITE) and its text. Retransmitted answers to earlier INVITEs are skipped."""
        call_id = call_id or self.last_call
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data, _ = self.s.recvfrom(65536)
            except socket.timeout:
                continue
            text = data.decode("utf-8", "replace")
            if text.startswith("SIP/2.0 ") and header(text, "Call-ID") == call_id:
                code = int(text[8:11])
                if code >= 200:
                    return code, text
        return None, ""

    def recv_request(self, method, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data, addr = self.s.recvfrom(65536)
            except socket.timeout:
                continue
            text = data.decode("utf-8", "replace")
            if text.startswith(method + " "):
                return text, addr
        return None, None

    def reply(self, req, addr, status, sdp=""):
        to = header(req, "To")
        if ";tag=" not in to:
            to += ";tag=" + uuid.uuid4().hex[:8]
        self.last_to = to
        reply = ("SIP/2.0 %s\r\nVia: %s\r\nFrom: %s\r\nTo: %s\r\nCall-ID: %s\r\n"
                 "CSeq: %s\r\nContact: <sip:peer@%s:%d>\r\n%sContent-Length: %d\r\n\r\n%s") % (
            status, header(req, "Via"), header(req, "From"), to, header(req, "Call-ID"),
            header(req, "CSeq"), self.ip, self.port,
            "Content-Type: application/sdp\r\n" if sdp else "", len(sdp), sdp)
        self.s.sendto(reply.encode(), addr)

    def reply_sdp(self, req, addr, status, sdp):
        self.reply(req, addr, status, sdp)

    def reply_ok(self, req, addr):
        self.reply(req, addr, "200 OK")

    def close(self):
        self.s.close()


def header(text, name):
    for line in text.split("\r\n"):
        if line.lower().startswith(name.lower() + ":"):
            return line.split(":", 1)[1].strip()
    return ""


class SipRobustTest(unittest.TestCase):

    def assertJson(self, r, status=200, model=None):
        self.assertEqual(r.status, status, r)
        return r.json()

    def test_refusals_fuzz_and_bye_at_shutdown(self):
        p = Peer()
        stranger = Peer("127.0.0.2")
        # +1999…: a trunk where nothing listens (the INVITE meets an ICMP port
        # unreachable: faxd's own 503), then one that answers busy: the fax fails over.
        fx = SipFaxd([trunk_conf("t", host="127.0.0.1", port=5060, inbound="127.0.0.1"),
                      trunk_conf("dead", host="127.0.0.1", port=free_udp_port(),
                                 prefixes="+1999"),
                      trunk_conf("busy", host="127.0.0.1", port=p.port, prefixes="+1999")],
                     env={"FAXD_LINE_NO_MEDIA_TIMEOUT": "3"})
        try:
            acct = fx.new_account(number=True)
            num = acct["number"]
            try:
                fid = send_doc(self, fx, acct, "+19995550123", name="letter_a4.pdf")["+19995550123"]
                inv, addr = p.recv_request("INVITE", timeout=30)
                self.assertIsNotNone(inv, fx.stderr_tail())
                p.reply(inv, addr, "486 Busy Here")
                rec = wait_fax(self, fx, acct["token"], fid, timeout=30)
                self.assertEqual(rec["status"], "failed_user_busy", fx.stderr_tail())
                # The trunk state file is rewritten by the SIP thread's 100 ms tick.
                deadline = time.monotonic() + 5
                while True:
                    trunks = {t["name"]: t for t in fx.faxctl("trunk", "list")["trunks"]}
                    if trunks["dead"]["last_error"] or time.monotonic() > deadline:
                        break
                    time.sleep(0.1)
                self.assertIn("no answer from 127.0.0.1", trunks["dead"]["last_error"])
                self.assertEqual(trunks["busy"]["last_error"], "")

                stranger.invite(fx.sip_port, num, sdp=SDP % 40000)
                self.assertEqual(stranger.final()[0], 403)
                p.invite(fx.sip_port, "+19995550000", sdp=SDP % 40000)
                self.assertEqual(p.final()[0], 404)
                p.invite(fx.sip_port, num, raw_body="v=0\r\nm=audio 1\r\n")
                self.assertEqual(p.final()[0], 400)
                p.invite(fx.sip_port, num)
                self.assertEqual(p.final()[0], 488)
                p.invite(fx.sip_port, num, sdp=SDP.replace("8 0", "18") % 40000)
                self.assertEqual(p.final()[0], 488)  # no G.711: nothing to carry a fax

                rnd = random.Random(7)
                valid, _ = p.invite(fx.sip_port, "+19995550001", sdp=SDP % 40000)
                p.final()
                junk = Peer()
                for i in range(600):
                    b = bytearray(valid.encode())
                    for _ in range(1 + i % 12):
                        if len(b) < 2:
                            break
                        k = rnd.randrange(len(b))
                        op = rnd.randrange(4)
                        if op == 0:
                            b[k] = rnd.randrange(256)
                        elif op == 1:
                            del b[k:k + rnd.randrange(40)]
                        elif op == 2:
                            b[k:k] = rnd.choice([b"\r\n", b":", b";", b"\x00", b"%", b"<", b"9" * 30])
                        else:
                            b = b[:k]
                    if i % 50 == 0:
                        b = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 1400)))
                    if b:
                        junk.s.sendto(bytes(b), ("127.0.0.1", fx.sip_port))
                junk.close()
                time.sleep(1)
                self.assertTrue(fx.running(), fx.stderr_tail())
                self.assertEqual(fx.req("GET", "/accounts/self", token=acct["token"]).status, 200)
                p.invite(fx.sip_port, "+19995550002", sdp=SDP % 40000)
                self.assertEqual(p.final()[0], 404)  # still answering properly

                # A call whose media never flows: the watchdog ends it with BYE.
                p.invite(fx.sip_port, num, sdp=SDP % 40000)
                code, ok = p.final()
                self.assertEqual(code, 200, fx.stderr_tail())
                bye, addr = p.recv_request("BYE", timeout=20)
                self.assertIsNotNone(bye, fx.stderr_tail())
                self.assertEqual(header(bye, "Call-ID"), header(ok, "Call-ID"))
                p.reply_ok(bye, addr)

                # A real call to our number: answered with our SDP; then faxd stops and
                # ends it with BYE.
                p.invite(fx.sip_port, num, sdp=SDP % 40000)
                code, ok = p.final()
                self.assertEqual(code, 200, fx.stderr_tail())
                self.assertIn("m=audio ", ok)
                self.assertIn("RTP/AVP 8", ok)
                fx.proc.send_signal(15)
                bye, addr = p.recv_request("BYE", timeout=10)
                self.assertIsNotNone(bye, fx.stderr_tail())
                self.assertEqual(header(bye, "Call-ID"), header(ok, "Call-ID"))
                p.reply_ok(bye, addr)
                fx.proc.wait(15)
                self.assertEqual(fx.proc.returncode, 0, fx.stderr_tail())
            finally:
                p.close()
                stranger.close()
        finally:
            fx.close()

    def test_t38_refused_with_image_port_zero_stays_g711(self):
        """Our T.38 re-INVITE answered 200 with m=image 0 (the refusal baresip and many
        PBXs send instead of 488): the call goes on in G.711."""
        p = Peer()
        fx = SipFaxd([trunk_conf("t", host="127.0.0.1", port=p.port, t38="prefer")])
        rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rtp.bind(("127.0.0.1", 0))
        try:
            acct = fx.new_account(number=True)
            fid = send_doc(self, fx, acct, "+14155550199", name="letter_a4.pdf")["+14155550199"]
            inv, addr = p.recv_request("INVITE", timeout=30)
            self.assertIsNotNone(inv, fx.stderr_tail())
            media_port = int(re.search(r"m=audio (\d+) ", inv).group(1))
            answer = SDP.replace("8 0", "8") % rtp.getsockname()[1]
            p.reply_sdp(inv, addr, "200 OK", answer)
            # Play a fax answer tone (CED, 2100 Hz) as A-law RTP: faxd hears fax tones
            # and asks for T.38.
            tone = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 2100 * i / 8000)))
                            for i in range(160 * 250))
            alaw = audioop.lin2alaw(tone, 2)
            reinvite = None
            p.s.settimeout(0.001)
            for k in range(250):
                hdr = struct.pack("!BBHII", 0x80, 8, k, k * 160, 0x1234)
                rtp.sendto(hdr + alaw[k * 160:(k + 1) * 160], ("127.0.0.1", media_port))
                try:
                    data, a2 = p.s.recvfrom(65536)
                    text = data.decode("utf-8", "replace")
                    if text.startswith("INVITE ") and "m=image" in text:
                        reinvite = (text, a2)
                        break
                except socket.timeout:
                    pass
                time.sleep(0.02)
            p.s.settimeout(5)
            if reinvite is None:
                reinvite = p.recv_request("INVITE", timeout=10)
            self.assertIsNotNone(reinvite[0], fx.stderr_tail())
            self.assertIn("m=image", reinvite[0])
            refused = SDP.replace("8 0", "8") % rtp.getsockname()[1] + "m=image 0 udptl t38\r\n"
            p.reply_sdp(reinvite[0], reinvite[1], "200 OK", refused)
            deadline = time.monotonic() + 10
            while "sip t38 refused to=+14155550199 status=200" not in fx.stderr_text():
                self.assertLess(time.monotonic(), deadline, fx.stderr_tail())
                time.sleep(0.2)
            self.assertIn("staying in G.711 to=+14155550199", fx.stderr_text())
            # The far end hangs up: the attempt is recorded as a G.711 call.
            bye = ("BYE sip:x@127.0.0.1:%d SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%s\r\n"
                   "From: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: 2 BYE\r\nMax-Forwards: 70\r\n"
                   "Content-Length: 0\r\n\r\n") % (
                fx.sip_port, p.port, uuid.uuid4().hex[:10], p.last_to, header(inv, "From"),
                header(inv, "Call-ID"))
            p.s.sendto(bye.encode(), ("127.0.0.1", fx.sip_port))
            rec = wait_fax(self, fx, acct["token"], fid, timeout=60)
            self.assertNotEqual(rec["status"], "success")
            with fx.db() as c:
                row = c.execute("SELECT transport FROM attempts WHERE fax_id = ?", (fid,)).fetchone()
            self.assertEqual(row["transport"], "audio")
        finally:
            rtp.close()
            p.close()
            fx.close()

    def test_options_probe_follows_drain(self):
        """A dispatcher's OPTIONS probe gets 200 while the node takes calls and 503 while
        it drains (SIGUSR1), so kamailio stops sending calls there; 200 again after
        SIGUSR2."""
        p = Peer()
        fx = SipFaxd([trunk_conf("t", host="127.0.0.1", port=p.port)])
        try:
            self.assertEqual(p.options(fx.sip_port), 200)
            os.kill(fx.proc.pid, signal.SIGUSR1)
            deadline = time.monotonic() + 10
            code = 200
            while code != 503 and time.monotonic() < deadline:
                code = p.options(fx.sip_port)
                time.sleep(0.2)
            self.assertEqual(code, 503, fx.stderr_tail())
            os.kill(fx.proc.pid, signal.SIGUSR2)
            deadline = time.monotonic() + 10
            while code != 200 and time.monotonic() < deadline:
                code = p.options(fx.sip_port)
                time.sleep(0.2)
            self.assertEqual(code, 200, fx.stderr_tail())
        finally:
            p.close()
            fx.close()


if __name__ == "__main__":
    main()
