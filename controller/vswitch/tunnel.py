"""FAUCET's ACL tunnels over the stack fabric: ``output: {tunnel: {dp, port, ...}}``.
Pure: the tunnels of a policy checked and resolved (tunnel ids, destinations, sources),
and compiled to the output steps of model.py, which pipeline.py turns into FlowSpecs.

A packet an ACL sends into a tunnel is, at its source switch, pushed a VLAN tag of its
own (the tunnel id, a VID no tenant uses: ``reserved_internal_vlan``, or a free one
chosen as FAUCET chooses it) with PCP 3 (PCP 4 for a ``reverse`` tunnel), sent along the
fabric's stable route to the destination switch (its fast-failover group where the
route has a loop-free backup: fabric.py), and the tag popped again so that the rest of
the ACL's actions see the packet as it came. Every other switch of the fabric takes
(tunnel id, PCP) frames in from its stack ports only, in table 0 above every ACL, and
sends them on along its own route; the destination switch pops the tag (unless
``maintain_encapsulation``), applies ``exit_instructions`` and outputs to the
destination port. A tunnel frame meets no learning nor flooding anywhere, and a tunnel
VID is carried by no port's VLAN table: a frame that strays from its rules is dropped.
A host cannot inject into a tunnel: its frames are matched by its port's ACLs, never by
the tunnel rules (those take stack ports only, and a ``bi_directional`` tunnel's exit
port for the way back).

``bi_directional``: frames the destination port sends back tagged (tunnel id, PCP 4)
travel the fabric the other way and leave, untagged, at the tunnel's one source port.

docs/fabric.md ("Tunnels") has the design and what is guaranteed.
"""

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import networkx as nx

from controller.config.yaml_source import Path
from controller.ofmatch import MAX_VID, OFPVID_PRESENT
from controller.vswitch.fabric import Fabric, route_action
from controller.vswitch.model import OutputStep, Policy, Tunnel, Vlan

PCP_FORWARD = 3  # FAUCET's PCP_TUNNEL_FLAG
PCP_BACK = 4  # FAUCET's PCP_TUNNEL_REVERSE_DIRECTION_FLAG
ETH_TYPE_8021Q = 0x8100
Issue = Callable[[Path, str], None]


@dataclass(frozen=True)
class Pending:
    """A tunnel as the loader read it, resolved once the VLANs and switches are."""

    acl: str
    path: Path
    conf: Mapping[str, Any]
    exit_instructions: tuple[OutputStep, ...]


@dataclass(frozen=True)
class Exit:
    """Where the frames of one (tunnel id, PCP) leave the fabric, and what they get
    there; ``entry``: the (switch, port) a two-way tunnel's frames come back from."""

    dp: str
    port: int
    steps: tuple[OutputStep, ...]
    entry: tuple[str, int] | None = None


def resolve(
    pending: list[Pending], vlans: Mapping[str, Vlan], dps: Mapping[str, Any], issue: Issue
) -> dict[int, Tunnel]:
    """{index in ``pending``: Tunnel} of the tunnels whose destination and id resolve
    (the others reported), ids chosen where none is given: from the highest tenant VID
    on, past as many as the ACLs sorted before it have tunnels, the first VID nobody uses
    (FAUCET's rule); one id per destination within an ACL."""
    used = {vlan.vid for vlan in vlans.values()}
    wanted: dict[int, tuple[str, int, int | None]] = {}  # index -> (dp, port, given id)
    for index, item in enumerate(pending):
        where = _destination(item, dps, issue)
        tunnel_id = _given_id(item, vlans, issue)
        if where is None or tunnel_id is False:
            continue
        wanted[index] = where + (tunnel_id if isinstance(tunnel_id, int) else None,)
        if isinstance(tunnel_id, int):
            used.add(tunnel_id)
    tenant = [vlan.vid for vlan in vlans.values() if not vlan.reserved_internal_vlan]
    counts: dict[str, int] = {}
    for item in pending:
        counts[item.acl] = counts.get(item.acl, 0) + 1
    offsets, total = {}, max(tenant, default=0)
    for acl in sorted(counts):
        total += counts[acl]
        offsets[acl] = total
    chosen: dict[tuple[str, str, int], int] = {}  # (ACL, dp, port) -> its id
    tunnels = {}
    for index, (dp, port, tunnel_id) in sorted(wanted.items()):
        item = pending[index]
        if tunnel_id is None:
            key = (item.acl, dp, port)
            if key not in chosen:
                vid = offsets[item.acl]
                while vid in used:
                    vid += 1
                if vid > MAX_VID:
                    issue(item.path, 'no free VID is left for this tunnel; give its tunnel_id')
                    continue
                used.add(vid)
                chosen[key] = vid
            tunnel_id = chosen[key]
        tunnels[index] = Tunnel(
            tunnel_id=tunnel_id,
            dp=dp,
            port=port,
            exit_instructions=item.exit_instructions,
            maintain_encapsulation=item.conf.get('maintain_encapsulation') is True,
            bi_directional=item.conf.get('bi_directional') is True,
            reverse=item.conf.get('reverse') is True,
        )
    return tunnels


def _destination(item, dps, issue):
    """(switch name, port number) of the tunnel's destination, or None (reported)."""
    conf, path = item.conf, item.path
    if conf.get('reverse') is True and conf.get('bi_directional') is True:
        issue(path, 'a tunnel is reverse or bi_directional, not both (as in FAUCET)')
        return None
    name = conf.get('dp')
    if not isinstance(name, str):
        return None  # the schema said
    if name not in dps:
        issue(
            path + ('dp',),
            "unknown switch '%s' for the tunnel's destination; defined switches: %s"
            % (name, ', '.join(dps) or 'none'),
        )
        return None
    dp = dps[name]
    ref = conf.get('port')
    if ref is None:
        issue(
            path,
            "a tunnel to a whole switch (no 'port') is not supported by this suite: give "
            'the port of %s the tunnel leads to' % name,
        )
        return None
    if isinstance(ref, bool) or not isinstance(ref, (int, str)):
        return None
    port = dp.port_of(int(ref) if isinstance(ref, str) and ref.isdecimal() else ref)
    if port is None:
        issue(
            path + ('port',),
            'port %s does not exist on dp %s; its ports: %s'
            % (ref, name, ', '.join(str(n) for n in dp.interfaces) or 'none'),
        )
        return None
    if dp.interfaces[port].stack is not None:
        issue(
            path + ('port',),
            'port %d of %s is a stack port; a tunnel leads to a port out of the fabric'
            % (port, name),
        )
        return None
    return name, port


def _given_id(item, vlans, issue):
    """The tunnel id the tunnel names (a VID, or a reserved VLAN's name); None if it
    names none (one is chosen); False if it is wrong (reported)."""
    ref = item.conf.get('tunnel_id')
    path = item.path + ('tunnel_id',)
    if ref is None:
        return None
    if isinstance(ref, bool) or not isinstance(ref, (int, str)):
        return False
    vlan = vlans.get(ref) if isinstance(ref, str) else None
    if vlan is None and isinstance(ref, int):
        vlan = next((v for v in vlans.values() if v.vid == ref), None)
        if vlan is None:
            return ref
    if vlan is None:
        issue(
            path,
            "unknown VLAN '%s' for the tunnel id; give a VID, or the name of a VLAN with "
            'reserved_internal_vlan: true' % ref,
        )
        return False
    if not vlan.reserved_internal_vlan:
        issue(
            path,
            "VLAN '%s' (VID %d) is a tenant's VLAN: a tunnel needs a VID of its own, "
            'a VLAN with reserved_internal_vlan: true (as in FAUCET)' % (vlan.name, vlan.vid),
        )
        return False
    return vlan.vid


def tunnels_of(rules: tuple) -> Iterator[Tunnel]:
    """The tunnels the output steps of ``rules`` send to."""
    for rule in rules:
        for step in rule.actions.output:
            if step[0] == 'tunnel':
                yield step[1]


def sources(policy: Policy) -> dict[Tunnel, set[tuple[str, int | None]]]:
    """{tunnel: (switch name, port)} of the places its ACLs take packets in from:
    each port whose acls_in has it, and for dp_acls the port the rule matches (None:
    every port)."""
    found: dict[Tunnel, set[tuple[str, int | None]]] = {}
    with_tunnels = {name for name, rules in policy.acls.items() if any(tunnels_of(rules))}
    if not with_tunnels:
        return found
    for dp in policy.dps.values():
        for name in with_tunnels.intersection(dp.dp_acls):
            for rule in policy.acls[name]:
                for tunnel in tunnels_of((rule,)):
                    found.setdefault(tunnel, set()).add((dp.name, rule.match.get('in_port')))
        for port, intf in dp.interfaces.items():
            for name in with_tunnels.intersection(intf.acls_in):
                for tunnel in tunnels_of(policy.acls[name]):
                    found.setdefault(tunnel, set()).add((dp.name, port))
    return found


def exits(policy: Policy) -> tuple[dict[tuple[int, int], Exit], list[tuple[Tunnel, str]]]:
    """({(tunnel id, PCP): Exit} of the tunnels in use, [(tunnel, problem)]): two
    tunnels that share an id and a direction must lead to the same place, and a two-way
    tunnel has one source port to lead back to. Kept for the last policy asked about:
    every switch of a policy is compiled against the same one."""
    if _last_exits and _last_exits[0] is policy:
        return _last_exits[1]
    _last_exits[:] = [policy, _exits(policy)]
    return _last_exits[1]


_last_exits: list[Any] = []


def _exits(policy):
    found, problems = {}, []

    def add(key, exit_, tunnel):
        if key in found and found[key] != exit_:
            problems.append(
                (
                    tunnel,
                    'tunnel id %d (PCP %d) already leads to %s port %d: tunnels sharing an '
                    'id in one direction share their destination and exit'
                    % (key + (found[key].dp, found[key].port)),
                )
            )
        found.setdefault(key, exit_)

    for tunnel, places in sorted(sources(policy).items(), key=lambda item: repr(item[0])):
        pcp = PCP_BACK if tunnel.reverse else PCP_FORWARD
        pop = () if tunnel.maintain_encapsulation else (('pop_vlan',),)
        steps = pop + tunnel.exit_instructions + (('output', tunnel.port),)
        add((tunnel.tunnel_id, pcp), Exit(tunnel.dp, tunnel.port, steps), tunnel)
        if not tunnel.bi_directional:
            continue
        if policy.dps[tunnel.dp].interfaces[tunnel.port].output_only:
            problems.append(
                (
                    tunnel,
                    'a bi_directional tunnel takes frames back from its port; port %d of %s '
                    'is output_only' % (tunnel.port, tunnel.dp),
                )
            )
            continue
        if len(places) != 1 or None in {port for _, port in places}:
            problems.append(
                (
                    tunnel,
                    'a bi_directional tunnel leads back to its one source port; it is taken '
                    'from %s' % _places(places),
                )
            )
            continue
        [(dp, port)] = places
        back = Exit(dp, port, (('pop_vlan',), ('output', port)), (tunnel.dp, tunnel.port))
        add((tunnel.tunnel_id, PCP_BACK), back, tunnel)
    return found, problems


def _places(places):
    return ', '.join(
        '%s %s' % (dp, 'every port (dp_acls)' if port is None else 'port %d' % port)
        for dp, port in sorted(places, key=repr)
    )


def unreachable(policy: Policy) -> list[tuple[Tunnel, str]]:
    """[(tunnel, problem)] for tunnels whose source switch has no stack path to their
    destination switch."""
    graph = nx.Graph()
    graph.add_nodes_from(policy.dps)
    for name, dp in policy.dps.items():
        graph.add_edges_from((name, peer) for peer, _ in dp.stack_ports.values())
    return [
        (
            tunnel,
            '%s cannot reach the tunnel\'s destination %s: no stack links join them'
            % (dp, tunnel.dp),
        )
        for tunnel, places in sorted(sources(policy).items(), key=lambda item: repr(item[0]))
        for dp in sorted({dp for dp, _ in places})
        if not nx.has_path(graph, dp, tunnel.dp)
    ]


def _encapsulate(tunnel_id: int, pcp: int) -> tuple[OutputStep, ...]:
    return (('push_vlan', ETH_TYPE_8021Q, tunnel_id), ('set_field', 'vlan_pcp', pcp))


def entry_steps(
    tunnel: Tunnel, dp: Any, policy: Policy, fabric: Fabric | None
) -> tuple[OutputStep, ...]:
    """The output steps that send a packet into ``tunnel`` at switch ``dp`` (a model
    Datapath): on the destination switch itself, straight to its port; else tagged
    along the route and the tag popped again (the ACL's further actions see the packet
    as it came). Nothing while the destination is cut off."""
    pcp = PCP_BACK if tunnel.reverse else PCP_FORWARD
    if tunnel.dp == dp.name:
        tag = _encapsulate(tunnel.tunnel_id, pcp) if tunnel.maintain_encapsulation else ()
        return tunnel.exit_instructions + tag + (('output', tunnel.port),)
    route = _route(policy, dp, tunnel.dp, fabric)
    if route is None:
        return ()
    return _encapsulate(tunnel.tunnel_id, pcp) + (route, ('pop_vlan',))


def _route(policy, dp, destination, fabric):
    if fabric is None:
        return None
    route = fabric.route(dp.dp_id, policy.dps[destination].dp_id)
    return route_action(route) if route is not None else None


def hop_rules(
    policy: Policy, dp: Any, fabric: Fabric | None
) -> list[tuple[dict[str, int], tuple[OutputStep, ...]]]:
    """[(match, output steps)] of switch ``dp``'s tunnel rules of table 0: per (tunnel
    id, PCP) in use and stack port (and a two-way tunnel's exit port, for the way back):
    out at the exit on the destination switch, else on along the route."""
    found, _ = exits(policy)
    stack_ports = sorted(fabric.stack_ports.get(dp.dp_id, ())) if fabric is not None else []
    rules = []
    for (tunnel_id, pcp), exit_ in sorted(found.items()):
        ports = list(stack_ports)
        if exit_.entry is not None and exit_.entry[0] == dp.name:
            ports.append(exit_.entry[1])
        if exit_.dp == dp.name:
            steps = exit_.steps
        else:
            route = _route(policy, dp, exit_.dp, fabric)
            if route is None:
                continue
            steps = (route,)
        for port in ports:
            match = {'in_port': port, 'vlan_vid': OFPVID_PRESENT | tunnel_id, 'vlan_pcp': pcp}
            rules.append((match, steps))
    return rules
