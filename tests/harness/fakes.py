"""Stand-ins for Ryu objects, for code that runs without a switch (unit tests, the
in-process benchmarks)."""

from ryu.ofproto import ofproto_v1_3, ofproto_v1_3_parser


class FakeDatapath:
    """What our code uses of an OpenFlow 1.3 Ryu Datapath: ``id``, ``ofproto``,
    ``ofproto_parser``, ``set_xid``; ``send_msg`` keeps each message in ``sent``;
    ``close`` sets ``closed``."""

    ofproto, ofproto_parser = ofproto_v1_3, ofproto_v1_3_parser

    def __init__(self, dpid=1):
        self.id, self.xid, self.sent = dpid, 0, []
        self.closed = False

    def set_xid(self, msg):
        self.xid += 1
        msg.xid = self.xid
        return self.xid

    def send_msg(self, msg):
        self.sent.append(msg)

    def close(self) -> None:
        self.closed = True
