"""The answers of FAUCET's router addresses (a VLAN's ``faucet_vips``, from its
``faucet_mac``): ARP replies, IPv6 neighbour advertisements, and echo replies to pings,
for the frames the pipeline's VIP rules send to the controller (pipeline.py). Pure:
frames in, frames out.

    reply = answer(vlan, frame, tagged)   # the frame to send back, or None
"""

import ipaddress

from ryu.lib.packet import arp, ethernet, icmp, icmpv6, ipv4, ipv6, packet
from ryu.lib.packet import vlan as vlan_header

from controller.vswitch.model import Vlan

ETH_VLAN, ETH_ARP, ETH_IPV4, ETH_IPV6 = 0x8100, 0x0806, 0x0800, 0x86DD
ND_SOLICITED_OVERRIDE = 0b011  # the S and O flags of a neighbour advertisement


def _vips(vlan: Vlan) -> set[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    return {ipaddress.ip_interface(text).ip for text in vlan.faucet_vips}


def answer(vlan: Vlan, frame: bytes, tagged: bool) -> bytes | None:
    """The reply to ``frame`` (as the pipeline has it: tagged with ``vlan``'s VID) if
    it asks a VIP of ``vlan`` something the router answers, else None; sent back
    ``tagged`` (to a port that carries the VLAN tagged) or untagged."""
    pkt = packet.Packet(bytes(frame))
    eth = pkt.get_protocol(ethernet.ethernet)
    tag = pkt.get_protocol(vlan_header.vlan)
    if eth is None or tag is None or tag.vid != vlan.vid:
        return None
    vips = _vips(vlan)
    request = pkt.get_protocol(arp.arp)
    if request is not None:
        if request.opcode != arp.ARP_REQUEST or ipaddress.ip_address(request.dst_ip) not in vips:
            return None
        body = arp.arp(
            opcode=arp.ARP_REPLY,
            src_mac=vlan.faucet_mac,
            src_ip=request.dst_ip,
            dst_mac=request.src_mac,
            dst_ip=request.src_ip,
        )
        return _frame(vlan, eth.src, ETH_ARP, [body], tagged)
    ping4, ip4 = pkt.get_protocol(icmp.icmp), pkt.get_protocol(ipv4.ipv4)
    if ping4 is not None and ip4 is not None:
        if ping4.type != icmp.ICMP_ECHO_REQUEST or ipaddress.ip_address(ip4.dst) not in vips:
            return None
        reply_ip = ipv4.ipv4(src=ip4.dst, dst=ip4.src, proto=1, ttl=64)
        echo = icmp.icmp(type_=icmp.ICMP_ECHO_REPLY, code=0, csum=0, data=ping4.data)
        return _frame(vlan, eth.src, ETH_IPV4, [reply_ip, echo], tagged)
    msg6, ip6 = pkt.get_protocol(icmpv6.icmpv6), pkt.get_protocol(ipv6.ipv6)
    if msg6 is None or ip6 is None:
        return None
    if msg6.type_ == icmpv6.ND_NEIGHBOR_SOLICIT:
        target = msg6.data.dst
        if ipaddress.ip_address(target) not in vips:
            return None
        advert = icmpv6.icmpv6(
            type_=icmpv6.ND_NEIGHBOR_ADVERT,
            data=icmpv6.nd_neighbor(
                res=ND_SOLICITED_OVERRIDE,
                dst=target,
                option=icmpv6.nd_option_tla(hw_src=vlan.faucet_mac),
            ),
        )
        reply_ip6 = ipv6.ipv6(src=target, dst=ip6.src, nxt=58, hop_limit=255)
        return _frame(vlan, eth.src, ETH_IPV6, [reply_ip6, advert], tagged)
    if msg6.type_ == icmpv6.ICMPV6_ECHO_REQUEST and ipaddress.ip_address(ip6.dst) in vips:
        reply_ip6 = ipv6.ipv6(src=ip6.dst, dst=ip6.src, nxt=58, hop_limit=64)
        echo6 = icmpv6.icmpv6(type_=icmpv6.ICMPV6_ECHO_REPLY, data=msg6.data)
        return _frame(vlan, eth.src, ETH_IPV6, [reply_ip6, echo6], tagged)
    return None


def _frame(vlan: Vlan, dst: str, ethertype: int, layers: list, tagged: bool) -> bytes:
    reply = packet.Packet()
    if tagged:
        reply.add_protocol(ethernet.ethernet(dst=dst, src=vlan.faucet_mac, ethertype=ETH_VLAN))
        reply.add_protocol(vlan_header.vlan(vid=vlan.vid, ethertype=ethertype))
    else:
        reply.add_protocol(ethernet.ethernet(dst=dst, src=vlan.faucet_mac, ethertype=ethertype))
    for layer in layers:
        reply.add_protocol(layer)
    reply.serialize()
    return bytes(reply.data)
