"""faxd against a third-party SIP stack (baresip, no fax): each SIP outcome ends as the
status STATUS.md gives it — busy, never answered (faxd cancels), unknown user, a voice
line, a hang-up mid-call — our T.38 re-INVITE refused with m=image 0 keeps the call in
G.711, and a call from baresip carrying no fax ends cleanly without an inbox record.
All calls run at the same time (the voice line alone takes T.30's T0 of 60 s).
baresip calling from an address no trunk covers authenticates with a trunk's inbound
credentials (407 challenge): the right password is answered, a wrong one gets 403."""

import os
import shutil
import tempfile
import time
import unittest

from faxd_harness import main
from sip_harness import BARESIP, Baresip, SipFaxd, send_doc, trunk_conf, wait_fax, write_wav

ROOT_TMP = os.environ.get("FAXD_SIP_TMP") or None


@unittest.skipUnless(os.path.exists(BARESIP), "baresip is needed (scripts/install-deps.sh)")
class BaresipTest(unittest.TestCase):

    def assertJson(self, r, status=200, model=None):
        self.assertEqual(r.status, status, r)
        return r.json()

    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="faxd-baresip-", dir=ROOT_TMP)
        self.peers = []
        self.fx = None

    def tearDown(self):
        for p in self.peers:
            p.close()
        if self.fx:
            self.fx.close()
        if not os.environ.get("FAXD_E2E_KEEP"):
            shutil.rmtree(self.root, ignore_errors=True)

    def peer(self, user, **kw):
        p = Baresip(self.root, user, **kw)
        self.peers.append(p)
        return p

    def test_outcomes(self):
        voice, short, ced = (os.path.join(self.root, n) for n in ("voice.wav", "short.wav", "ced.wav"))
        write_wav(voice, 75)
        write_wav(short, 8)
        write_wav(ced, 75, tone_hz=2100, tone_secs=3.5)
        busy = self.peer("14015550001", answer="manual", local_timeout=1)
        noans = self.peer("14025550001", answer="manual", local_timeout=3600)
        vline = self.peer("14035550001", answer="auto", wav=voice)
        hang = self.peer("14045550001", answer="auto", wav=short)
        t38ref = self.peer("14055550001", answer="auto", wav=ced)
        # baresip's account users have no '+': the trunks send numbers without it.
        trunks = [trunk_conf(n, host="127.0.0.1", port=p.port, prefixes=pre, t38=t38,
                             number_plus="off")
                  for n, p, pre, t38 in (("busy", busy, "+1401", "off"),
                                         ("noans", noans, "+1402", "off"),
                                         ("voice", vline, "+1403", "off"),
                                         ("hangup", hang, "+1404", "off"),
                                         ("t38ref", t38ref, "+1405", "prefer"))]
        self.fx = SipFaxd(trunks, env={"FAXD_SIP_RING_TIMEOUT": "5",
                                       "FAXD_LINE_CHANNELS": "8"})
        acct = self.fx.new_account(number=True)
        # baresip calls us and plays 8 s of voice, then hangs up.
        caller = self.peer("14065550001", answer="auto", wav=short,
                           dial="sip:%s@127.0.0.1:%d" % (acct["number"], self.fx.sip_port))
        want = {
            "+14015550001": "failed_user_busy",
            "+14025550001": "failed_no_answer",
            "+14015550099": "failed_unallocated_number",
            "+14035550001": "failed_fs_2",
            "+14045550001": "failed_fs_49",
            "+14055550001": "failed_fs_2",
        }
        ids = send_doc(self, self.fx, acct, list(want), name="letter_a4.pdf")
        got = {n: wait_fax(self, self.fx, acct["token"], ids[n], timeout=180)["status"]
               for n in want}
        self.assertEqual(got, want, self.fx.stderr_tail(8000))
        with self.fx.db() as c:
            rows = {r["number"]: dict(r) for r in c.execute(
                "SELECT number, sip_code, transport FROM attempts WHERE direction = 'outgoing'")}
        # 487 Request Terminated is baresip's answer to our CANCEL after the ring timeout.
        self.assertEqual(rows["+14025550001"]["sip_code"], 487)
        self.assertEqual(rows["+14015550001"]["sip_code"], 486)
        self.assertEqual(rows["+14015550099"]["sip_code"], 404)
        # The refused T.38 re-INVITE left the call in G.711.
        self.assertEqual(rows["+14055550001"]["transport"], "audio")
        err = self.fx.stderr_text()
        self.assertIn("sip asking for t38 to=+14055550001", err)
        self.assertIn("sip t38 refused to=+14055550001", err)
        self.assertIn("ring timeout to=+14025550001", err)
        # The inbound call without fax tones: answered, ended, nothing in the inbox.
        self.fx.wait_log(self, "inbound call without pages to=%s" % acct["number"])
        r = self.fx.req("GET", "/accounts/self/faxes", token=acct["token"],
                        query={"category": "inbox"})
        self.assertEqual(self.assertJson(r)["data"]["records"], [])
        self.assertIn("sip incoming call trunk=", self.fx.stderr_text())

    def test_digest_authenticated_callers(self):
        short = os.path.join(self.root, "short.wav")
        write_wav(short, 6)
        # 127.0.0.1 (where baresip calls from) is no trunk's address: callers must
        # authenticate as the pbx trunk's inbound user.
        self.fx = SipFaxd([trunk_conf("pbx", host="127.0.0.9", prefixes="+1999",
                                      inbound_username="pbx", inbound_password="pbx-secret")])
        acct = self.fx.new_account(number=True)
        uri = "sip:%s@127.0.0.1:%d" % (acct["number"], self.fx.sip_port)
        self.peer("14075550001", wav=short, dial=uri, params=";auth_user=pbx;auth_pass=pbx-secret")
        bad = self.peer("14085550001", wav=short, dial=uri, params=";auth_user=pbx;auth_pass=nope")
        deadline = time.monotonic() + 60
        want = ["sip incoming call authenticated source=127.0.0.1 user=pbx trunk=pbx",
                "inbound call without pages to=%s from=+14075550001" % acct["number"],
                "digest authentication failed source=127.0.0.1 user=pbx code=403"]
        while not all(w in self.fx.stderr_text() for w in want) or "403" not in bad.log():
            self.assertLess(time.monotonic(), deadline,
                            self.fx.stderr_tail(4000) + "\n" + bad.log()[-2000:])
            time.sleep(0.5)
        err = self.fx.stderr_text()
        self.assertNotIn("pbx-secret", err)
        # Only the authenticated caller was answered.
        self.assertEqual(err.count("sip incoming call trunk=pbx source=127.0.0.1"), 1, err[-4000:])
        r = self.fx.req("GET", "/accounts/self/faxes", token=acct["token"],
                        query={"category": "inbox"})
        self.assertEqual(self.assertJson(r)["data"]["records"], [])


if __name__ == "__main__":
    main()
