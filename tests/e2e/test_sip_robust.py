"""SIP robustness on the wire, with a raw UDP SIP peer written here: a trunk where
nothing listens fails over to the next trunk (and shows as the trunk's last error);
INVITEs from a
source that is no trunk get 403, unknown numbers 404, a broken SDP offer 400;
hundreds of malformed datagrams and mutated INVITEs never crash faxd; a call whose media
never flows is ended by the watchdog with BYE; a call in progress is ended with BYE when
faxd stops (SIGTERM). Also: digest authentication of callers outside the trunks'
networks (407, replay, wrong password 403), late offer (SDP in the 200 and the ACK),
Require/Supported 100rel, a trunk whose registration is refused is not dialled, and an
answering faxd's T.38 re-INVITE waits for the caller's ACK."""

import audioop
import hashlib
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
from sip_harness import SipFaxd, free_udp_port, send_doc, trunk_conf, trunk_states, wait_fax

SDP = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
       "m=audio %d RTP/AVP 8 0\r\na=rtpmap:8 PCMA/8000\r\n")


class Peer:
    def __init__(self, ip="127.0.0.1"):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind((ip, 0))
        self.ip, self.port = self.s.getsockname()
        self.s.settimeout(5)

    def invite(self, target, user, sdp=None, raw_body=None, call_id=None, extra="", cseq=1,
               from_tag=None):
        call_id = call_id or uuid.uuid4().hex
        body = raw_body if raw_body is not None else (sdp or "")
        msg = ("INVITE sip:%s@127.0.0.1:%d SIP/2.0\r\n"
               "Via: SIP/2.0/UDP %s:%d;branch=z9hG4bK%s;rport\r\n"
               "Max-Forwards: 70\r\nFrom: <sip:+14155550100@%s>;tag=%s\r\n"
               "To: <sip:%s@127.0.0.1>\r\nCall-ID: %s\r\nCSeq: %d INVITE\r\n"
               "Contact: <sip:peer@%s:%d>\r\n%s%s"
               "Content-Length: %d\r\n\r\n%s") % (
            user, target, self.ip, self.port, uuid.uuid4().hex[:10], self.ip,
            from_tag or uuid.uuid4().hex[:8], user, call_id, cseq, self.ip, self.port, extra,
            "Content-Type: application/sdp\r\n" if body else "", len(body.encode()), body)
        self.s.sendto(msg.encode(), ("127.0.0.1", target))
        self.last_call = call_id
        return msg, call_id

    def ack(self, target, invite, resp, sdp=""):
        """ACKs a final response to `invite`: a non-2xx in the INVITE's transaction, a
        2xx as a new request to the Contact (carrying `sdp`, the answer to a late offer)."""
        ok = resp.startswith("SIP/2.0 2")
        first = invite.split("\r\n", 1)[0].replace("INVITE ", "ACK ", 1)
        via = header(invite, "Via")
        if ok:
            first = "ACK %s SIP/2.0" % re.search(r"<([^>]+)>", header(resp, "Contact")).group(1)
            via = "SIP/2.0/UDP %s:%d;branch=z9hG4bK%s;rport" % (self.ip, self.port,
                                                                  uuid.uuid4().hex[:10])
        msg = ("%s\r\nVia: %s\r\nMax-Forwards: 70\r\nFrom: %s\r\nTo: %s\r\nCall-ID: %s\r\n"
               "CSeq: %s ACK\r\n%sContent-Length: %d\r\n\r\n%s") % (
            first, via, header(invite, "From"), header(resp, "To"), header(invite, "Call-ID"),
            header(invite, "CSeq").split()[0],
            "Content-Type: application/sdp\r\n" if sdp else "", len(sdp), sdp)
        self.s.sendto(msg.encode(), ("127.0.0.1", target))

    def in_dialog(self, method, target, invite, ok, cseq):
        """Sends a request inside the call that `ok` (faxd's 200) answered; returns the
        final response (code, text). An INVITE carries no SDP (an offer-less re-INVITE)."""
        msg = ("%s %s SIP/2.0\r\nVia: SIP/2.0/UDP %s:%d;branch=z9hG4bK%s;rport\r\n"
               "Max-Forwards: 70\r\nFrom: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %d %s\r\n"
               "Contact: <sip:peer@%s:%d>\r\nContent-Length: 0\r\n\r\n") % (
            method, re.search(r"<([^>]+)>", header(ok, "Contact")).group(1), self.ip,
            self.port, uuid.uuid4().hex[:10], header(invite, "From"), header(ok, "To"),
            header(invite, "Call-ID"), cseq, method, self.ip, self.port)
        self.s.sendto(msg.encode(), ("127.0.0.1", target))
        return msg, self.final(header(invite, "Call-ID"), method=method, cseq=cseq)

    def bye(self, target, invite, ok, cseq=9):
        """Ends the call that `ok` (faxd's 200) answered; returns the BYE's status."""
        return self.in_dialog("BYE", target, invite, ok, cseq)[1][0]

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

    def final(self, call_id=None, timeout=10, method=None, cseq=None):
        """The first final response (status >= 200) to call_id (default: the last
        INVITE) and its text. Retransmitted answers to earlier INVITEs are skipped, and
        with method/cseq answers to other requests of the call."""
        call_id = call_id or self.last_call
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data, _ = self.s.recvfrom(65536)
            except socket.timeout:
                continue
            text = data.decode("utf-8", "replace")
            if text.startswith("SIP/2.0 ") and header(text, "Call-ID") == call_id:
                num, meth = (header(text, "CSeq").split() + ["", ""])[:2]
                if (method and meth != method) or (cseq and num != str(cseq)):
                    continue
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
            self.seen = getattr(self, "seen", "") + text.split(" ", 1)[0] + "\n"
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


def md5(text):
    return hashlib.md5(text.encode()).hexdigest()


def proxy_auth(challenge_resp, user, password, target, called, nonce=None, nc=1):
    """The Proxy-Authorization header line answering a 407 (RFC 2617, qop=auth)."""
    ch = header(challenge_resp, "Proxy-Authenticate")
    realm = re.search(r'realm="([^"]*)"', ch).group(1)
    nonce = nonce or re.search(r'nonce="([^"]*)"', ch).group(1)
    uri = "sip:%s@127.0.0.1:%d" % (called, target)
    cnonce, ncs = uuid.uuid4().hex[:16], "%08x" % nc
    ha1, ha2 = md5("%s:%s:%s" % (user, realm, password)), md5("INVITE:%s" % uri)
    resp = md5("%s:%s:%s:%s:auth:%s" % (ha1, nonce, ncs, cnonce, ha2))
    return ('Proxy-Authorization: Digest username="%s", realm="%s", nonce="%s", uri="%s", '
            'response="%s", algorithm=MD5, cnonce="%s", qop=auth, nc=%s\r\n') % (
        user, realm, nonce, uri, resp, cnonce, ncs)


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
                self.busy_fax(fx, acct, p, "+19995550123")
                trunks = trunk_states(fx, lambda t: t["dead"]["last_error"])
                self.assertIn("no answer from 127.0.0.1", trunks["dead"]["last_error"])
                self.assertEqual(trunks["busy"]["last_error"], "")

                stranger.invite(fx.sip_port, num, sdp=SDP % 40000)
                self.assertEqual(stranger.final()[0], 403)
                p.invite(fx.sip_port, "+19995550000", sdp=SDP % 40000)
                self.assertEqual(p.final()[0], 404)
                p.invite(fx.sip_port, num, raw_body="v=0\r\nm=audio 1\r\n")
                self.assertEqual(p.final()[0], 400)
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
            # The SIP thread logs the refusal, then the call's thread acts on it.
            fx.wait_log(self, "staying in G.711 to=+14155550199", 10)
            self.assertIn("sip t38 refused to=+14155550199 status=200", fx.stderr_text())
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

    def test_incoming_t38_switch_waits_for_the_ack(self):
        """faxd answering a call hears the caller's CNG and wants T.38 at once, but its
        re-INVITE waits until the caller's ACK has completed the INVITE (RFC 3261 14.1):
        no INVITE comes before our ACK, the re-INVITE right after it."""
        p = Peer()
        fx = SipFaxd([trunk_conf("t", host="127.0.0.1", port=p.port, t38="prefer")])
        rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rtp.bind(("127.0.0.1", 0))
        try:
            num = fx.new_account(number=True)["number"]
            inv, _ = p.invite(fx.sip_port, num, sdp=SDP.replace("8 0", "8") % rtp.getsockname()[1])
            code, ok = p.final()
            self.assertEqual(code, 200, fx.stderr_tail())
            media_port = int(re.search(r"m=audio (\d+) ", ok).group(1))
            # CNG (1100 Hz, 0.5 s on, 3 s off) as A-law RTP, without ACKing the 200.
            cng = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 1100 * i / 8000)))
                           if i % 28000 < 4000 else b"\0\0" for i in range(8000 * 20))
            alaw = audioop.lin2alaw(cng, 2)
            seen = []
            p.s.settimeout(0.001)
            waiting = "sip t38 waits for the ACK to=%s" % num
            for k in range(1000):
                self.assertLess(k, 999, fx.stderr_tail())
                hdr = struct.pack("!BBHII", 0x80, 8, k, k * 160, 0x4321)
                rtp.sendto(hdr + alaw[k * 160:(k + 1) * 160], ("127.0.0.1", media_port))
                try:
                    seen.append(p.s.recvfrom(65536)[0].decode("utf-8", "replace").split(" ", 1)[0])
                except socket.timeout:
                    pass
                if k % 10 == 0 and waiting in fx.stderr_text():
                    break
                time.sleep(0.02)
            p.s.settimeout(5)
            self.assertNotIn("INVITE", seen)
            p.ack(fx.sip_port, inv, ok)
            reinv, addr = p.recv_request("INVITE", timeout=10)
            self.assertIsNotNone(reinv, fx.stderr_tail())
            self.assertIn("m=image", reinv)
            p.reply(reinv, addr, "488 Not Acceptable Here")
            self.assertEqual(p.bye(fx.sip_port, inv, ok), 200)
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

    def busy_fax(self, fx, acct, peer, to):
        """Sends a fax to `to`, which must reach `peer`: it answers busy."""
        fid = send_doc(self, fx, acct, to, name="letter_a4.pdf")[to]
        inv, addr = peer.recv_request("INVITE", timeout=30)
        self.assertIsNotNone(inv, fx.stderr_tail())
        peer.reply(inv, addr, "486 Busy Here")
        rec = wait_fax(self, fx, acct["token"], fid, timeout=30)
        self.assertEqual(rec["status"], "failed_user_busy", fx.stderr_tail())

    def test_digest_auth_late_offer_and_100rel(self):
        """A caller outside every trunk's networks is challenged (407) when a trunk has
        inbound credentials: the right answer is taken as that trunk's call, a replayed
        answer is challenged again (stale), a wrong password gets 403 and a log line
        without the secret. From a trunk's address: an INVITE without SDP gets our offer
        in the 200 and the answer is taken from the ACK; Require: 100rel (which faxd
        does not support) gets 420 with Unsupported, Supported: 100rel is answered."""
        p = Peer()
        stranger = Peer("127.0.0.2")
        fx = SipFaxd([trunk_conf("t", host="127.0.0.1", port=p.port, inbound="127.0.0.1"),
                      trunk_conf("pbx", host="127.0.0.9", prefixes="+1999",
                                 inbound_username="pbx", inbound_password="s3cr3t-pw")],
                     env={"FAXD_LINE_NO_MEDIA_TIMEOUT": "5"})
        try:
            num = fx.new_account(number=True)["number"]
            port = fx.sip_port
            # No credentials: a challenge.
            inv, cid = stranger.invite(port, num, sdp=SDP % 40000, from_tag="ft1")
            code, ch = stranger.final()
            self.assertEqual(code, 407, fx.stderr_tail())
            self.assertIn('realm="faxd"', header(ch, "Proxy-Authenticate"))
            self.assertIn("qop=", header(ch, "Proxy-Authenticate"))
            stranger.ack(port, inv, ch)
            # The right answer: the call is taken as trunk pbx's.
            auth = proxy_auth(ch, "pbx", "s3cr3t-pw", port, num)
            inv2, _ = stranger.invite(port, num, sdp=SDP % 40000, call_id=cid, cseq=2,
                                      from_tag="ft1", extra=auth)
            code, ok = stranger.final(cseq=2)
            self.assertEqual(code, 200, fx.stderr_tail())
            stranger.ack(port, inv2, ok)
            self.assertEqual(stranger.bye(port, inv2, ok), 200)
            self.assertIn("sip incoming call authenticated source=127.0.0.2 user=pbx trunk=pbx",
                          fx.stderr_text())
            # The same answer replayed on a new call: challenged again, stale.
            inv3, _ = stranger.invite(port, num, sdp=SDP % 40000, extra=auth)
            code, ch3 = stranger.final()
            self.assertEqual(code, 407, fx.stderr_tail())
            self.assertIn("stale=true", header(ch3, "Proxy-Authenticate"))
            stranger.ack(port, inv3, ch3)
            # A nonce faxd never issued: a plain new challenge.
            forged = proxy_auth(ch, "pbx", "s3cr3t-pw", port, num, nonce="AAAAAAAAAAAAAAAAAAAAAAAA")
            inv4, _ = stranger.invite(port, num, sdp=SDP % 40000, extra=forged)
            code, ch4 = stranger.final()
            self.assertEqual(code, 407, fx.stderr_tail())
            self.assertNotIn("stale=true", header(ch4, "Proxy-Authenticate"))
            stranger.ack(port, inv4, ch4)
            # A wrong password: 403, logged without any secret.
            inv5, cid5 = stranger.invite(port, num, sdp=SDP % 40000, extra=proxy_auth(
                ch4, "pbx", "wrong-pw", port, num))
            code, refused = stranger.final()
            self.assertEqual(code, 403, fx.stderr_tail())
            stranger.ack(port, inv5, refused)
            err = fx.stderr_text()
            self.assertIn("digest authentication failed source=127.0.0.2 user=pbx", err)
            self.assertNotIn("s3cr3t-pw", err)
            self.assertNotIn("wrong-pw", err)

            # Late offer: our SDP in the 200, the answer in the ACK starts the media.
            inv6, _ = p.invite(port, num)
            code, ok6 = p.final()
            self.assertEqual(code, 200, fx.stderr_tail())
            self.assertIn("m=audio ", ok6)
            p.ack(port, inv6, ok6, sdp=SDP.replace("8 0", "0") % 40002)
            fx.wait_log(self, "line sip media to=%s kind=pcmu peer=127.0.0.1:40002" % num, 10)
            # A re-INVITE without an offer: ours again in the 200; the ACK's answer moves.
            reinv, (code, ok7) = p.in_dialog("INVITE", port, inv6, ok6, 2)
            self.assertEqual(code, 200, fx.stderr_tail())
            self.assertIn("m=audio ", ok7)
            p.ack(port, reinv, ok7, sdp=SDP.replace("8 0", "0") % 40004)
            fx.wait_log(self, "line sip media to=%s kind=pcmu peer=127.0.0.1:40004" % num, 10)
            self.assertEqual(p.bye(port, inv6, ok6), 200)

            # 100rel: required → 420 with Unsupported; merely supported → answered.
            inv7, _ = p.invite(port, num, sdp=SDP % 40000, extra="Require: 100rel\r\n")
            code, bad = p.final()
            self.assertEqual(code, 420, fx.stderr_tail())
            self.assertIn("100rel", header(bad, "Unsupported"))
            p.ack(port, inv7, bad)
            inv8, _ = p.invite(port, num, sdp=SDP % 40000, extra="Supported: 100rel, timer\r\n")
            code, ok8 = p.final()
            self.assertEqual(code, 200, fx.stderr_tail())
            self.assertNotIn("100rel", header(ok8, "Require"))
            p.ack(port, inv8, ok8, "")
            self.assertEqual(p.bye(port, inv8, ok8), 200)
            self.assertTrue(fx.running(), fx.stderr_tail())
        finally:
            p.close()
            stranger.close()
            fx.close()

    def test_unregistered_trunk_is_not_dialled(self):
        """A trunk with register = on whose REGISTER was refused (403) is skipped: a fax
        goes out through the next trunk serving the number, and one only that trunk
        serves fails with failed_to_send, the reason in the log. faxd registers again
        later; once registered the trunk is dialled again."""
        reg, alt = Peer(), Peer()
        fx = SipFaxd([trunk_conf("reg", host="127.0.0.1", port=reg.port, register="on",
                                 username="u", password="p", prefixes="+1888,+1777"),
                      trunk_conf("alt", host="127.0.0.1", port=alt.port, prefixes="+1888")])
        try:
            req, addr = reg.recv_request("REGISTER", timeout=10)
            self.assertIsNotNone(req, fx.stderr_tail())
            reg.reply(req, addr, "403 Forbidden")
            trunks = trunk_states(fx, lambda t: "403" in t["reg"]["last_error"])
            self.assertIn("403", trunks["reg"]["last_error"], fx.stderr_tail())
            self.assertEqual(trunks["reg"]["registered"], "no")
            acct = fx.new_account(number=True)
            ids = send_doc(self, fx, acct, ["+18885550100", "+17775550100"], name="letter_a4.pdf")
            inv, addr = alt.recv_request("INVITE", timeout=30)
            self.assertIsNotNone(inv, fx.stderr_tail())
            self.assertIn("+18885550100", inv.split("\r\n", 1)[0])
            alt.reply(inv, addr, "486 Busy Here")
            rec = wait_fax(self, fx, acct["token"], ids["+18885550100"], timeout=30)
            self.assertEqual(rec["status"], "failed_user_busy", fx.stderr_tail())
            rec = wait_fax(self, fx, acct["token"], ids["+17775550100"], timeout=30)
            self.assertEqual(rec["status"], "failed_to_send", fx.stderr_tail())
            self.assertIn("skipping trunk=reg to=+17775550100: trunk reg is not registered: "
                          "registration failed (403 Forbidden)", fx.stderr_text())
            # Nothing was sent to the unregistered trunk but REGISTERs; faxd registers
            # again later (30 s), and once that succeeds the trunk is dialled again.
            req, addr = reg.recv_request("REGISTER", timeout=60)
            self.assertIsNotNone(req, fx.stderr_tail())
            self.assertNotIn("INVITE", getattr(reg, "seen", ""))
            reg.reply(req, addr, "200 OK")
            trunks = trunk_states(fx, lambda t: t["reg"]["registered"] == "yes")
            self.assertEqual(trunks["reg"]["registered"], "yes", fx.stderr_tail())
            self.assertEqual(trunks["reg"]["last_error"], "")
            self.busy_fax(fx, acct, reg, "+17775550100")
        finally:
            reg.close()
            alt.close()
            fx.close()


if __name__ == "__main__":
    main()
