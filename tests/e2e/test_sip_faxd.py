"""faxd to faxd over SIP: two faxd processes (separate data dirs, SIP and media ports),
each with a trunk pointing at the other. Faxes sent through the API of one arrive, in
real time over G.711 RTP or T.38 UDPTL, in the inbox of the other with the same page
images; the sent record says success. Independent calls run concurrently."""

import unittest

from faxd_harness import main, run_parallel
import os
import tempfile

from sip_harness import (Capture, SipFaxd, TSHARK, free_udp_port, send_doc, trunk_conf,
                         wait_fax, wait_inbox)
from test_fax_flow import assert_same_pages


class SipPair:
    """faxd A (numbers +1202…) and faxd B (numbers +1303…) trunked to each other."""

    def __init__(self, t38_a="off", t38_b="off", env=None, transport_a="udp"):
        pa, pb = free_udp_port(), free_udp_port()
        self.a = SipFaxd([trunk_conf("to-b", host="127.0.0.1", port=pb, prefixes="+1303",
                                     t38=t38_a, transport=transport_a, display_name="Fax A",
                                     pai="+12025550000")], sip_port=pa, env=env)
        try:
            self.b = SipFaxd([trunk_conf("to-a", host="127.0.0.1", port=pa, prefixes="+1202",
                                         t38=t38_b)], sip_port=pb, env=env)
        except BaseException:
            self.a.close()
            raise
        self.b._numbers = 0
        self.b.next_number = lambda: "+1303555%04d" % (1000 + self._bump())
        self._n = 0

    def _bump(self):
        self._n += 1
        return self._n

    def close(self):
        try:
            self.a.close()
        finally:
            self.b.close()


def download(tc, fx, tok, fax_id):
    r = fx.req("GET", "/accounts/self/files/" + fax_id, token=tok, query={"format": "tiff"})
    tc.assertEqual(r.status, 200, r)
    return r.body


class SipFaxdTest(unittest.TestCase):
    maxDiff = None

    def assertJson(self, r, status=200, model=None):
        self.assertEqual(r.status, status, r)
        return r.json()

    def check_fax(self, src, sacct, dst, dacct, name, pages, transport):
        """Sends `name` from src to dst's number; checks both records and the pages."""
        ids = send_doc(self, src, sacct, dacct["number"], name=name)
        sent = wait_fax(self, src, sacct["token"], ids[dacct["number"]], timeout=300)
        self.assertEqual(sent["status"], "success", "%s\n%s" % (sent, src.stderr_tail(5000)))
        self.assertEqual(sent["pages"], pages)
        recs = wait_inbox(self, dst, dacct["token"], 1)
        got = recs[0]
        self.assertEqual((got["direction"], got["status"], got["pages"]),
                         ("incoming", "success", pages))
        self.assertEqual(got["from"], sacct["number"])
        self.assertEqual(got["to"], dacct["number"])
        assert_same_pages(self, download(self, src, sacct["token"], sent["id"]),
                          download(self, dst, dacct["token"], got["id"]), pages)
        with dst.db() as c:
            row = c.execute("SELECT transport, line FROM attempts WHERE fax_id = ?",
                            (got["id"],)).fetchone()
        self.assertEqual(row["transport"], transport)
        return sent, got

    def pair_jobs(self, pair, transport):
        """A 1-page fax A→B and a 3-page fax B→A, to be run at the same time."""
        a1 = pair.a.new_account(number=True)
        b1 = pair.b.new_account(number=True)
        a3 = pair.a.new_account(number=True)
        b3 = pair.b.new_account(number=True)
        return [
            lambda: self.check_fax(pair.a, a1, pair.b, b1, "letter_a4.pdf", 1, transport),
            lambda: self.check_fax(pair.b, b3, pair.a, a3, "mixed_orientation.pdf", 3, transport),
        ]

    def pairs_test(self, modes, capture_first=False, env=None, transport_a="udp"):
        """modes: [(t38 of A, t38 of B, transport expected)], all pairs at once. With
        capture_first, the first pair's SIP and media are captured and decoded by tshark
        (returned as a Capture, stopped)."""
        pairs = []
        cap = None
        try:
            jobs = []
            for ta, tb, transport in modes:
                pairs.append(SipPair(ta, tb, env=env, transport_a=transport_a))
                jobs += self.pair_jobs(pairs[-1], transport)
            if capture_first:
                p = pairs[0]
                cap = Capture(self.tmp, ports=(p.a.sip_port, p.b.sip_port),
                              ranges=((p.a.rtp_min, p.a.rtp_min + 401),
                                      (p.b.rtp_min, p.b.rtp_min + 401)))
            run_parallel(jobs)
        finally:
            if cap:
                cap.stop()
            for p in pairs:
                p.close()
        return cap

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="faxd-sip-")

    def tearDown(self):
        import shutil
        if not os.environ.get("FAXD_E2E_KEEP"):
            shutil.rmtree(self.tmp, ignore_errors=True)

    def test_g711_both_directions(self):
        # With a 90 s session timer the 3-page call (about 70 s) is refreshed midway
        # (re-INVITE at half the interval); the fax goes on undisturbed.
        capture = os.path.exists(TSHARK) and os.geteuid() == 0
        # A calls B over TCP (with a display name and P-Asserted-Identity), B calls A
        # over UDP.
        cap = self.pairs_test([("off", "off", "audio")], capture_first=capture,
                              env={"FAXD_SIP_SESSION_EXPIRES": "90"}, transport_a="tcp")
        if cap:
            invites = cap.text('sip.Method == "INVITE"')
            self.assertGreaterEqual(cap.count('sip.Method == "INVITE"'), 3, invites)
            self.assertEqual(cap.count("sip.Status-Code >= 400"), 0,
                             cap.text("sip.Status-Code >= 400"))
            self.assertGreaterEqual(cap.count('tcp && sip.Method == "INVITE"'), 1)
            self.assertGreaterEqual(cap.count('sip.from.display.info contains "Fax A"'), 1)
            self.assertGreaterEqual(cap.count('sip.P-Asserted-Identity contains "+12025550000"'), 1)

    def test_t38_only_and_prefer_both_directions(self):
        # only: the INVITE offers m=image; prefer: G.711 first, then a re-INVITE on the
        # fax tones switches both sides to T.38; prefer against a side with T.38 off:
        # the re-INVITE is refused (488) and the fax goes through in G.711.
        capture = os.path.exists(TSHARK) and os.geteuid() == 0
        cap = self.pairs_test([("only", "only", "t38"), ("prefer", "prefer", "t38"),
                               ("prefer", "off", "audio")], capture_first=capture)
        if not cap:
            return
        # tshark decodes the T.38-only pair's calls: SIP with SDP, UDPTL/T.38 down to
        # the T.30 frames, and finds nothing malformed and no expert warning.
        self.assertGreaterEqual(cap.count("sip.Method == \"INVITE\""), 2)
        self.assertGreaterEqual(cap.count("sip.Method == \"BYE\""), 2)
        self.assertGreaterEqual(cap.count("sdp.media.proto == \"udptl\""), 4)
        self.assertGreater(cap.count("t38"), 50)
        self.assertGreater(cap.count("t30.Address"), 4)
        self.assertEqual(cap.count("_ws.malformed"), 0, cap.text("_ws.malformed"))
        bad = "_ws.expert.severity >= 0x00600000"
        self.assertEqual(cap.count(bad), 0, cap.text(bad)[:3000])


if __name__ == "__main__":
    main()
