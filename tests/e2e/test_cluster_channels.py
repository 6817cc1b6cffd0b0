"""A trunk's channels hold for all nodes together (PostgreSQL only): two faxd nodes
sharing one database, each with a trunk of channels = 1 to the same far end (a third
faxd, with channels to spare), and two faxes queued on each node. The far end must never
have two calls up at once — watched in its trunk state file while the faxes go, and
checked afterwards from its inbound attempts' start and end — and every fax succeeds
with no retries allowed: a dial that found the trunk full on the other node was given
back uncounted and placed later."""

import os
import time
import unittest

from faxd_harness import PG_BASE, main, run_parallel
from sip_harness import SipFaxd, free_udp_port, send_doc, trunk_conf, wait_fax, wait_inbox

PER_NODE = 2


def far_in_use(far):
    """Calls up on the far end's trunk now, from its trunk state file."""
    try:
        with open(os.path.join(far.data_dir, "trunks.state")) as f:
            return sum(int(line.split("\t")[2].split("/")[0]) for line in f if line.strip())
    except (OSError, ValueError, IndexError):
        return 0


@unittest.skipUnless(PG_BASE, "nodes share a PostgreSQL store")
class ClusterChannelsTest(unittest.TestCase):
    def assertJson(self, r, status=200, model=None):
        self.assertEqual(r.status, status, r)
        return r.json()

    def test_trunk_limit_holds_across_nodes(self):
        pa, pb, pfar = free_udp_port(), free_udp_port(), free_udp_port()
        carrier = trunk_conf("carrier", host="127.0.0.1", port=pfar, prefixes="+1303",
                             channels=1)
        far = SipFaxd([trunk_conf("cluster", host="127.0.0.1", port=pa, prefixes="+1202")],
                      sip_port=pfar)
        # Two dialers per node: a second call is refused locally, as well as by the
        # other node's call in the store.
        nodes = [SipFaxd([carrier], sip_port=pa, env={"FAXD_LINE_CHANNELS": "2"})]
        try:
            nodes.append(SipFaxd([carrier], sip_port=pb, env={
                "FAXD_LINE_CHANNELS": "2", "FAXD_STORE_DRIVER": nodes[0].store_uri()}))
            far.next_number = lambda: "+13035550100"
            dest = far.new_account(number=True)
            senders = [nodes[0].new_account(number=True) for _ in range(2 * PER_NODE)]
            ids = []
            for i, acct in enumerate(senders):  # alternately through each node's API
                node = nodes[i % 2]
                ids.append((node, acct, send_doc(self, node, acct, dest["number"],
                                                 name="letter_a4.pdf")[dest["number"]]))
            most = 0
            watching = [True]

            def watch():
                nonlocal most
                while watching[0]:
                    most = max(most, far_in_use(far))
                    time.sleep(0.1)

            def wait_all():
                try:
                    for node, acct, fax_id in ids:
                        sent = wait_fax(self, node, acct["token"], fax_id, timeout=280)
                        self.assertEqual(sent["status"], "success",
                                         "%s\n%s" % (sent, node.stderr_tail(4000)))
                finally:
                    watching[0] = False
            run_parallel([watch, wait_all])
            self.assertEqual(most, 1, "calls up at once on the far end")
            self.assertEqual(len(wait_inbox(self, far, dest["token"], len(ids))), len(ids))
            with far.db() as c:
                spans = sorted(tuple(r) for r in c.execute(
                    "SELECT started, ended FROM attempts WHERE direction = 'incoming'"))
            self.assertEqual(len(spans), len(ids))
            for (_, end), (start, _) in zip(spans, spans[1:]):
                # A call starts once the one before ended. The far end stamps `ended`
                # when it stores the fax, a moment after the BYE (seconds, and more on a
                # loaded machine); two calls up at once would overlap by a whole call.
                self.assertGreaterEqual(start, end - 5, spans)
            with nodes[0].db() as c:  # one attempt each: the refused dials left none
                self.assertEqual(c.execute("SELECT COUNT(*) FROM attempts WHERE "
                                           "direction = 'outgoing'").fetchone()[0], len(ids))
            logs = "".join(n.stderr_text() for n in nodes)
            self.assertIn("trunk full on all nodes trunk=carrier", logs)
            self.assertIn("queue no free channel", logs)
        finally:
            for n in nodes:
                n.close()
            far.close()


if __name__ == "__main__":
    main()
