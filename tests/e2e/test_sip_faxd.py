"""faxd to faxd over SIP: two faxd processes (separate data dirs, SIP and media ports),
each with a trunk pointing at the other. Faxes sent through the API of one arrive, in
real time over G.711 RTP or T.38 UDPTL, in the inbox of the other with the same page
images; the sent record says success. Independent calls run concurrently."""

import threading
import unittest

from faxd_harness import main
from sip_harness import SipFaxd, send_doc, trunk_conf, wait_fax, wait_inbox, free_udp_port
from test_fax_flow import HEADER_ROWS, tiff_pages


class SipPair:
    """faxd A (numbers +1202…) and faxd B (numbers +1303…) trunked to each other."""

    def __init__(self, t38_a="off", t38_b="off"):
        pa, pb = free_udp_port(), free_udp_port()
        self.a = SipFaxd([trunk_conf("to-b", host="127.0.0.1", port=pb, prefixes="+1303",
                                     t38=t38_a)], sip_port=pa)
        try:
            self.b = SipFaxd([trunk_conf("to-a", host="127.0.0.1", port=pa, prefixes="+1202",
                                         t38=t38_b)], sip_port=pb)
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
        sp = tiff_pages(download(self, src, sacct["token"], sent["id"]))
        rp = tiff_pages(download(self, dst, dacct["token"], got["id"]))
        self.assertEqual((len(sp), len(rp)), (pages, pages))
        for i, ((sw, sh, srows), (rw, rh, rrows)) in enumerate(zip(sp, rp)):
            self.assertEqual(sw, rw, "page %d width" % i)
            extra = rh - sh
            self.assertGreaterEqual(extra, 0, "page %d: received page shorter" % i)
            body = rrows[extra:] if extra else rrows
            first = HEADER_ROWS if not extra else 0
            self.assertEqual(body[first:], srows[first:], "page %d differs" % i)
        with dst.db() as c:
            row = c.execute("SELECT transport, line FROM attempts WHERE fax_id = ?",
                            (got["id"],)).fetchone()
        self.assertEqual(row["transport"], transport)
        return sent, got

    def run_parallel(self, jobs):
        errors = []

        def run(fn):
            try:
                fn()
            except BaseException as e:  # noqa: BLE001
                errors.append(e)
        ts = [threading.Thread(target=run, args=(j,)) for j in jobs]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        if errors:
            raise errors[0]

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

    def pairs_test(self, modes):
        """modes: [(t38 of A, t38 of B, transport expected)], all pairs at once."""
        pairs = []
        try:
            jobs = []
            for ta, tb, transport in modes:
                pairs.append(SipPair(ta, tb))
                jobs += self.pair_jobs(pairs[-1], transport)
            self.run_parallel(jobs)
        finally:
            for p in pairs:
                p.close()

    def test_g711_both_directions(self):
        self.pairs_test([("off", "off", "audio")])

    def test_t38_only_and_prefer_both_directions(self):
        # only: the INVITE offers m=image; prefer: G.711 first, then a re-INVITE on the
        # fax tones switches both sides to T.38.
        self.pairs_test([("only", "only", "t38"), ("prefer", "prefer", "t38")])


if __name__ == "__main__":
    main()
