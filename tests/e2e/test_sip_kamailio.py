"""faxd behind kamailio (tests/sip/kamailio.cfg.in): registration with digest
authentication, refreshed before it expires; digest authentication answers 401 and 407
challenges on calls, wrong credentials end as a clear trunk error (failed_to_send and
the trunk's last_error in `faxctl trunk list`), a scripted responder's SIP codes and
Q.850 causes map to the statuses of STATUS.md (cause first), and a stateless
dispatcher spreads inbound calls over two faxd processes that each receive theirs.
Everything runs at once; the dispatched faxes are real-time G.711 calls."""

import os
import shutil
import tempfile
import unittest

from faxd_harness import main
from sip_harness import (KAMAILIO, Kamailio, SipFaxd, free_udp_port, inbox_counts, send_doc,
                         trunk_conf, trunk_states, wait_fax)

HERE = os.path.dirname(os.path.abspath(__file__))
CFG_IN = os.path.join(os.path.dirname(HERE), "sip", "kamailio.cfg.in")

SCRIPTED = {
    "+16004800170": "failed_user_busy",            # 480 but Q.850 17: the cause wins
    "+16005000010": "failed_unallocated_number",   # 500 with cause 1
    "+16004040160": "failed_normal_clearing",      # 404 with cause 16
    "+16005030000": "failed_to_send",              # 503
    "+16004840000": "failed_invalid_number_format",
    "+16006030000": "failed_destination_not_supported",
    "+16005020000": "failed_normal_temporary_failure",
    "+16004180000": "failed",                      # a code no row maps
    "+16010000000": "failed_user_busy",            # 401, authenticated, then 486
    "+16020000000": "failed_unallocated_number",   # 407, authenticated, then 404
    "+16030000000": "failed_to_send",              # wrong password
}


@unittest.skipUnless(os.path.exists(KAMAILIO) and os.geteuid() == 0,
                     "kamailio (run as root) is needed")
class KamailioTest(unittest.TestCase):

    def assertJson(self, r, status=200, model=None):
        self.assertEqual(r.status, status, r)
        return r.json()

    def start_kamailio(self, dispatch_ports):
        self.kdir = tempfile.mkdtemp(prefix="faxd-kamailio-")
        self.kport = free_udp_port()
        ds = os.path.join(self.kdir, "dispatcher.list")
        with open(ds, "w") as f:
            for p in dispatch_ports:
                f.write("1 sip:127.0.0.1:%d\n" % p)
        with open(CFG_IN) as f:
            cfg = f.read().replace("@PORT@", str(self.kport)).replace("@DISPATCHER_LIST@", ds)
        path = os.path.join(self.kdir, "kamailio.cfg")
        with open(path, "w") as f:
            f.write(cfg)
        self.kam = Kamailio(self, path, self.kport, kdir=self.kdir)

    def stop_kamailio(self):
        self.kam.close()
        if not os.environ.get("FAXD_E2E_KEEP"):
            shutil.rmtree(self.kdir, ignore_errors=True)

    def test_auth_codes_and_dispatcher(self):
        b_ports = [free_udp_port(), free_udp_port()]
        self.start_kamailio(b_ports)
        fxs = []
        try:
            kam = dict(host="127.0.0.1", port=self.kport, username="faxuser")
            env = {"FAXD_LINE_CHANNELS": "16", "FAXD_LINE_SANDBOX_PREFIX": ""}
            a = SipFaxd([trunk_conf("kam", password="secret", prefixes="+1600,+1601,+1602,+1700",
                                    t38="off", register="on", register_expires=60, **kam),
                         trunk_conf("kambad", password="wrong", prefixes="+1603", **kam)],
                        env=env)
            fxs.append(a)
            for p in b_ports:
                fxs.append(SipFaxd([trunk_conf("kam", t38="off", **kam)], sip_port=p, env=env))
            sender = a.new_account(number=True)
            receivers = [b.new_account(number="+17005550001") for b in fxs[1:]]
            fax_ids = [send_doc(self, a, sender, "+17005550001", name="letter_a4.pdf")["+17005550001"]
                       for _ in range(4)]
            ids = send_doc(self, a, sender, list(SCRIPTED), name="letter_a4.pdf")
            got = {n: wait_fax(self, a, sender["token"], ids[n], timeout=60)["status"]
                   for n in SCRIPTED}
            self.assertEqual(got, SCRIPTED, a.stderr_tail(6000))
            trunks = trunk_states(a, lambda t: t["kambad"]["last_error"])
            self.assertIn("authentication failed", trunks["kambad"]["last_error"],
                          a.stderr_tail(6000))
            self.assertEqual(trunks["kam"]["last_error"], "")
            self.assertEqual(trunks["kam"]["registered"], "yes")
            self.assertEqual(trunks["kambad"]["registered"], "off")
            for fid in fax_ids:
                rec = wait_fax(self, a, sender["token"], fid, timeout=240)
                self.assertEqual(rec["status"], "success", a.stderr_tail(6000))
            counts = inbox_counts(self, list(zip(fxs[1:], receivers)), 4)
            self.assertEqual(sum(counts), 4, counts)
            self.assertTrue(all(c >= 1 for c in counts), counts)
            # Granted 10 s, the registration was refreshed during the calls.
            regs = self.kam.log().count("faxd-test REGISTER accepted user=faxuser")
            self.assertGreaterEqual(regs, 2)
        finally:
            for fx in fxs:
                fx.close()
            self.stop_kamailio()


if __name__ == "__main__":
    main()
