"""491 glare on the T.38 switch, made deterministic: faxd A calls faxd B through a small
SIP relay written here (every request and response of the call passes through it; the
media flows directly). The relay answers the first T.38 re-INVITE itself with
491 Request Pending, as a far end whose own re-INVITE crossed ours would. The side that
got the 491 tries again after RFC 3261's random wait, the call switches to T.38 and the
fax arrives."""

import re
import socket
import threading
import unittest
import uuid

from faxd_harness import main
from sip_harness import SipFaxd, free_udp_port, send_doc, trunk_conf, wait_fax, wait_inbox


def header(text, name):
    for line in text.split("\r\n"):
        if line.lower().startswith(name.lower() + ":"):
            return line.split(":", 1)[1].strip()
    return ""


class Relay:
    """Two UDP sockets: `ra` faces faxd A (A's trunk points at it), `rb` faces faxd B.
    A request gets the relay's Via on top, a response loses it; Contacts and
    Request-URIs are rewritten so in-dialog requests come back through the relay too."""

    def __init__(self, a_port, b_port):
        self.a_port, self.b_port = a_port, b_port
        self.ra = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.rb = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.ra.bind(("127.0.0.1", free_udp_port()))
        self.rb.bind(("127.0.0.1", free_udp_port()))
        self.ra_port, self.rb_port = self.ra.getsockname()[1], self.rb.getsockname()[1]
        self.refused = []       # (direction, CSeq) of re-INVITEs answered 491
        self.stop = False
        self.threads = [threading.Thread(target=self.pump, args=(self.ra, self.rb, "a->b")),
                        threading.Thread(target=self.pump, args=(self.rb, self.ra, "b->a"))]
        for t in self.threads:
            t.start()

    def rewrite(self, text, direction):
        head, sep, body = text.partition("\r\n\r\n")
        lines = head.split("\r\n")
        src_port, me_in, me_out, dst_port = (
            (self.a_port, self.ra_port, self.rb_port, self.b_port) if direction == "a->b"
            else (self.b_port, self.rb_port, self.ra_port, self.a_port))
        if not lines[0].startswith("SIP/2.0"):
            lines[0] = lines[0].replace("127.0.0.1:%d" % me_in, "127.0.0.1:%d" % dst_port)
            lines.insert(1, "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%s" % (
                me_out, uuid.uuid4().hex[:12]))
        else:
            for i, line in enumerate(lines):
                if line.lower().startswith(("via:", "v:")):
                    name, value = line.split(":", 1)
                    rest = value.split(",", 1)
                    if len(rest) == 2:
                        lines[i] = name + ":" + rest[1]
                    else:
                        del lines[i]
                    break
        for i, line in enumerate(lines):
            if line.lower().startswith(("contact:", "m:")):
                # The other side reaches this one through the socket it talks to.
                lines[i] = line.replace("127.0.0.1:%d" % src_port, "127.0.0.1:%d" % me_out)
        return "\r\n".join(lines) + sep + body

    def glare(self, sock, text, addr, direction):
        """True when `text` is a T.38 re-INVITE to refuse (the first one) or a
        retransmission of it, or the ACK of our 491."""
        cseq = header(text, "CSeq")
        if text.startswith("ACK ") and (direction, cseq.split()[0]) in [
                (d, c.split()[0]) for d, c in self.refused]:
            return True
        reinvite = (text.startswith("INVITE ") and ";tag=" in header(text, "To")
                    and "m=image" in text)
        if not reinvite or (self.refused and (direction, cseq) not in self.refused):
            return False
        if (direction, cseq) not in self.refused:
            self.refused.append((direction, cseq))
        vias = [line for line in text.split("\r\n\r\n")[0].split("\r\n")
                if line.lower().startswith(("via:", "v:"))]
        resp = ("SIP/2.0 491 Request Pending\r\n%s\r\nFrom: %s\r\nTo: %s\r\nCall-ID: %s\r\n"
                "CSeq: %s\r\nContent-Length: 0\r\n\r\n") % (
            "\r\n".join(vias), header(text, "From"), header(text, "To"),
            header(text, "Call-ID"), cseq)
        sock.sendto(resp.encode(), addr)
        return True

    def pump(self, src, dst, direction):
        src.settimeout(0.2)
        dst_port = self.b_port if direction == "a->b" else self.a_port
        while not self.stop:
            try:
                data, addr = src.recvfrom(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            text = data.decode("utf-8", "replace")
            if not re.match(r"^(SIP/2\.0 |[A-Z]+ )", text) or self.glare(src, text, addr, direction):
                continue
            # Requests and responses alike cross to the other side: a response to a
            # request from B arrives here on `ra` because the relay's Via sent it here.
            dst.sendto(self.rewrite(text, direction).encode(), ("127.0.0.1", dst_port))

    def close(self):
        self.stop = True
        for t in self.threads:
            t.join(2)
        self.ra.close()
        self.rb.close()


class SipGlareTest(unittest.TestCase):

    def assertJson(self, r, status=200, model=None):
        self.assertEqual(r.status, status, r)
        return r.json()

    def test_t38_reinvite_refused_491_is_retried(self):
        pa, pb = free_udp_port(), free_udp_port()
        relay = Relay(pa, pb)
        a = b = None
        try:
            a = SipFaxd([trunk_conf("relay", host="127.0.0.1", port=relay.ra_port,
                                    prefixes="+1303", t38="prefer")], sip_port=pa)
            b = SipFaxd([trunk_conf("relay", host="127.0.0.1", port=relay.rb_port,
                                    prefixes="+1202", t38="prefer")], sip_port=pb)
            sender = a.new_account(number=True)
            receiver = b.new_account(number="+13035550001")
            fid = send_doc(self, a, sender, receiver["number"], name="letter_a4.pdf")[receiver["number"]]
            sent = wait_fax(self, a, sender["token"], fid, timeout=240)
            logs = a.stderr_text() + b.stderr_text()
            self.assertEqual(sent["status"], "success", "%s\n%s\n%s" % (
                sent, a.stderr_tail(4000), b.stderr_tail(4000)))
            self.assertEqual(len(relay.refused), 1, relay.refused)
            self.assertIn("sip t38 glare (491)", logs)
            got = wait_inbox(self, b, receiver["token"], 1)[0]
            self.assertEqual((got["status"], got["pages"]), ("success", 1))
            with b.db() as c:
                row = c.execute("SELECT transport FROM attempts WHERE fax_id = ?",
                                (got["id"],)).fetchone()
            self.assertEqual(row["transport"], "t38")
        finally:
            for fx in (a, b):
                if fx:
                    fx.close()
            relay.close()


if __name__ == "__main__":
    main()
