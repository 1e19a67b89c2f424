"""Load a policy file: YAML read with the line and column of every key and value
(controller/config/yaml_source.py), the schema check, the checks across the file, and
the model.

Every problem is collected in one pass and reported with the file, line, column and key
path of the place it is about; ``ConfigError`` carries them all, sorted by line.
"""

import ipaddress
import os
import re
from dataclasses import replace
from typing import Any

import networkx as nx

from controller import ofmatch
from controller.config.errors import ConfigError
from controller.config.frozen import FrozenDict
from controller.config.schema import parse_int
from controller.config.yaml_source import DEFAULT_MAX_BYTES, Path, read_bounded
from controller.vswitch import portopts, routing, schema, tunnel
from controller.vswitch.faucet_layout import layout_options
from controller.vswitch.include import PolicyFiles
from controller.vswitch.lacp import lacp_options, lag_issues
from controller.vswitch.model import (
    DESTINATIONS,
    FAUCET_MAC,
    OVS_HARDWARE,
    REWRITES,
    Actions,
    Datapath,
    Interface,
    Meter,
    Policy,
    Rule,
    Vlan,
)
from controller.vswitch.portopts import Beacon

_MAC = re.compile(r'^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$')
# FAUCET's per-port options that only a port in VLANs takes (portopts.py)
_VLAN_PORT_OPTIONS = (
    'hairpin',
    'loop_protect',
    'loop_protect_external',
    'receive_lldp',
    'lldp_peer_mac',
    'lldp_beacon',
)


def load_policy(path: str, max_bytes: int = DEFAULT_MAX_BYTES) -> Policy:
    """The Policy in the YAML file at ``path`` and the files it includes; ConfigError
    if one is unreadable, not a regular file, larger than ``max_bytes`` or wrong."""
    return load_policy_text(read_bounded(path, max_bytes), str(path), max_bytes)


def load_policy_text(
    text: str | bytes, filename: str = '<string>', max_bytes: int = DEFAULT_MAX_BYTES
) -> Policy:
    """The Policy in ``text`` (str, or UTF-8 bytes); ``filename`` names it in messages
    and is where its includes are looked for from (include.py)."""
    files = PolicyFiles(schema.POLICY_SCHEMA['expect'])
    policy = None
    if files.read_root(text, filename, max_bytes):
        # Where reading the YAML already failed (a bad tag, a duplicate key), that is
        # the message; the schema's view of the leftover value would only add noise.
        unread = {path for path, _ in _issue_keys(files)}
        for path, message, at_key in schema.schema_issues(files.data):
            if path not in unread:
                files.issue(path, message, at_key=at_key)
        policy = _Builder(files).build()
    issues = list(files.all_issues())
    paths = tuple(files.paths)
    files.release()
    if issues or policy is None:
        raise ConfigError(issues)
    return replace(policy, files=paths)


def _issue_keys(files):
    for source in files.sources:
        yield from source.issues


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _of_type(value, kind, default=None):
    """``value`` if it has the type the schema wants (which reported it otherwise)."""
    if kind is int:
        return value if _is_int(value) else default
    return value if isinstance(value, kind) else default


def _listed(names):
    return ', '.join(str(name) for name in names) or 'none'


class _Builder:
    """The model from schema-shaped data, and every check that looks at more than one
    value. Values of a wrong type were reported by the schema; here they are skipped, so
    one mistake gives one message."""

    def __init__(self, source):
        self.source = source
        self.acl_names = ()  # every ACL defined, built or not
        self.acls = {}  # name -> tuple of Rules
        self.acl_ports = {}  # ACL name -> [(path, port)] of its mirror / output ports
        self.vlan_keys = {}  # name -> its key in 'vlans' (str)
        self.vlans = {}  # name -> Vlan (those with a valid VID)
        self.vlan_by_vid = {}
        self.meter_refs = []  # (path, meter name) of the ACL rules that meter
        self.vip_owner = {}  # VIP address -> the key of its VLAN
        # (switch name, port, path, its 'stack' settings) of every stack port
        self.stack_refs = []
        self.pending_tunnels: list[tunnel.Pending] = []  # resolved once the switches are
        self.failover_groups = {}  # ACL failover group id -> (its ports, path)
        self.notes = []  # what is accepted but does nothing, as in FAUCET: for the log

    def issue(self, path: Path, message: str, at_key: bool = False) -> None:
        # One message per place: where the schema spoke, it said what was wrong.
        if not self.source.has_issue_at(path):
            self.source.issue(path, message, at_key=at_key)

    def note(self, path: Path, message: str) -> None:
        self.notes.append(
            '%s:%s: %s: %s'
            % (
                self.source.source_of(path).filename,
                self.source.line_of(path),
                '.'.join(map(str, path)),
                message,
            )
        )

    def build(self) -> Policy | None:
        data = self.source.data
        if not isinstance(data, dict):
            return None
        meters = self._meters(_of_type(data.get('meters'), dict, {}))
        self._acls(_of_type(data.get('acls'), dict, {}))
        for path, name in self.meter_refs:
            if name not in meters:
                self.issue(path, "unknown meter '%s'; defined meters: %s" % (name, _listed(meters)))
        self._vlans(_of_type(data.get('vlans'), dict, {}))
        dps = self._stacking(self._dps(_of_type(data.get('dps'), dict, {})))
        self._check_acl_ports(dps)
        routers = routing.parse_routers(
            data.get('routers'), self._known_vlan, self.vlan_keys, self.issue, self.note
        )
        routing.check_routes(self.vlans, routers, self.vlan_keys, self.issue, self.note)
        policy = Policy(
            vlans=FrozenDict(self.vlans),
            dps=FrozenDict(dps),
            acls=FrozenDict(self.acls),
            meters=FrozenDict(meters),
            routers=FrozenDict(routers),
            notes=tuple(self.notes),
        )
        return self._tunnels(policy) if self.pending_tunnels else policy

    def _known_vlan(self, ref):
        """The Vlan named (or numbered) ``ref``, None if none is."""
        if isinstance(ref, bool) or not isinstance(ref, (str, int)):
            return None
        if str(ref) in self.vlans:
            return self.vlans[str(ref)]
        return self.vlan_by_vid.get(int(ref)) if _decimal(str(ref)) else None

    def _meters(self, conf):
        """FAUCET's meters (OpenFlow meters, of DROP bands), by name."""
        meters, by_id = {}, {}
        for name, meter in conf.items():
            path = ('meters', name)
            if not isinstance(meter, dict):
                continue
            entry = _of_type(meter.get('entry'), dict, {})
            flags = entry.get('flags', [])
            flags = [flags] if isinstance(flags, str) else _of_type(flags, list, [])
            for index, flag in enumerate(flags):
                if flag not in _METER_FLAGS:
                    flag_path = path + ('entry', 'flags') + ((index,) if len(flags) > 1 else ())
                    self.issue(flag_path, 'expected KBPS, PKTPS, BURST or STATS; got %r' % (flag,))
            if {'KBPS', 'PKTPS'} <= set(flags):
                self.issue(path + ('entry', 'flags'), 'KBPS or PKTPS: a rate is in one unit')
            meter_id = _of_type(meter.get('meter_id'), int)
            if meter_id in by_id:
                self.issue(
                    path + ('meter_id',),
                    'meter_id %d is already used by meter %s' % (meter_id, by_id[meter_id]),
                )
                continue
            bands = [
                (band.get('rate'), band.get('burst_size', 0))
                for band in _of_type(entry.get('bands'), list, [])
                if isinstance(band, dict)
            ]
            if meter_id is None or not all(_is_int(r) and _is_int(b) for r, b in bands):
                continue
            by_id[meter_id] = name
            meters[name] = Meter(
                name=name,
                meter_id=meter_id,
                flags=tuple(sorted(set(flags) & _METER_FLAGS)),
                bands=tuple(bands),
            )
        return meters

    # --- ACLs --------------------------------------------------------------------------

    def _acls(self, conf):
        self.acl_names = list(conf)
        for name, acl in conf.items():
            path = ('acls', name)
            if isinstance(acl, dict):
                path, acl = path + ('rules',), acl.get('rules')
            if not isinstance(acl, list):
                continue
            rules = []
            for index, item in enumerate(acl):
                if not isinstance(item, dict):
                    continue
                # FAUCET's three spellings: '- rule: {fields}', '- {fields}', and an
                # empty 'rule:' with the fields beside it.
                if isinstance(item.get('rule'), dict):
                    rules.append(self._rule(name, path + (index,), ('rule',), item['rule']))
                else:
                    body = {key: value for key, value in item.items() if key != 'rule'}
                    rules.append(self._rule(name, path + (index,), (), body))
            self.acls[name] = tuple(rules)

    def _rule(self, acl, item_path, inner, conf):
        path = item_path + inner
        fields = {
            key: value for key, value in conf.items() if key not in ('actions', 'description')
        }
        match, problems = ofmatch.normalise_match(
            fields, lambda key: self.source.plain.get(path + (key,))
        )
        for key, message in problems:
            self.issue(path + (key,), message)
        actions = _of_type(conf.get('actions'), dict, {})
        allow = actions.get('allow')
        # FAUCET's force_port_vlan: the packet, rewritten or not, goes on to forwarding
        force = actions.get('force_port_vlan') in (True, 1)
        mirror = _port_ref(actions.get('mirror'))
        meter = _of_type(actions.get('meter'), str)
        if meter is not None:
            self.meter_refs.append((path + ('actions', 'meter'), meter))
        if mirror is not None:
            self.acl_ports.setdefault(acl, []).append((path + ('actions', 'mirror'), mirror))
        output_path = path + ('actions', 'output')
        output = self._output(acl, output_path, actions.get('output'), match)
        if allow not in (True, False):  # not given: FAUCET allows what it mirrors
            allow = mirror is not None
        # Rewrites alone with allow: the rest of the pipeline forwards the rewritten
        # packet (FAUCET's, e.g. its NFV tutorial's). Beside a destination the rewrite
        # would be meant for that copy only, which OpenFlow cannot express.
        if (
            allow
            and not force
            and any(step[0] in REWRITES for step in output)
            and any(step[0] in DESTINATIONS for step in output)
        ):
            self.issue(
                output_path,
                'a rule that rewrites the packet for an output port cannot also allow it: '
                'the rest of the pipeline would see the rewritten packet too; write '
                'allow: false, or a second rule',
            )
        return Rule(
            match=FrozenDict(sorted(match.items())),
            actions=Actions(
                allow=bool(allow),
                force_port_vlan=force,
                mirror=mirror,
                output=tuple(output),
                meter=meter,
            ),
            description=_of_type(conf.get('description'), str),
            line=self.source.line_of(item_path),
        )

    def _output(self, acl, path, conf, match):
        """The output steps of FAUCET's output actions: a mapping (applied in FAUCET's
        fixed order: pop_vlans, vlan_vid or swap_vid or vlan_vids, set_fields, port,
        ports) or an ordered list of one-action mappings."""
        if isinstance(conf, dict):
            pushes = [key for key in ('vlan_vid', 'swap_vid', 'vlan_vids') if key in conf]
            if len(pushes) > 1:  # FAUCET would silently apply only the first
                self.issue(path + (pushes[1],), '%s and %s: give one of them' % tuple(pushes[:2]))
            order = (
                'pop_vlans',
                'vlan_vid',
                'swap_vid',
                'vlan_vids',
                'set_fields',
                'port',
                'ports',
                'tunnel',
                'failover',
            )
            items = [(path + (key,), key, conf[key]) for key in order if key in conf]
        elif isinstance(conf, list):
            items = [
                (path + (index, key), key, value)
                for index, action in enumerate(conf)
                if isinstance(action, dict) and len(action) == 1
                for key, value in action.items()
            ]
        else:
            return []
        steps = []
        for key_path, key, value in items:
            steps += self._output_steps(acl, key_path, key, value, match)
        return steps

    def _output_steps(self, acl, path, key, value, match):
        if key in ('port', 'ports'):
            refs = (
                [(path, value)]
                if key == 'port'
                else [(path + (i,), ref) for i, ref in enumerate(_of_type(value, list, []))]
            )
            steps = []
            for ref_path, ref in refs:
                port = _port_ref(ref)
                if port == ofmatch.OFPP_IN_PORT:  # OpenFlow's reserved port, on every switch
                    steps.append(('output', port))
                elif _is_int(port) and port > ofmatch.OFPP_MAX:
                    self.issue(
                        ref_path,
                        '%d is out of range; expected %s' % (port, schema.OUTPUT_PORT_EXPECT),
                    )
                elif port is not None:
                    self.acl_ports.setdefault(acl, []).append((ref_path, port))
                    steps.append(('output', port))
            return steps
        if key == 'failover':
            return self._failover(acl, path, _of_type(value, dict, {}))
        if key == 'pop_vlans':
            return [('pop_vlan',)] * value if _is_int(value) and 1 <= value <= 2 else []
        if key == 'swap_vid':
            return [('swap_vid', value)] if _is_int(value) else []
        if key in ('vlan_vid', 'vlan_vids'):
            pushed = [value] if key == 'vlan_vid' else _of_type(value, list, [])
            steps = []
            for push in pushed:
                vid = push.get('vid') if isinstance(push, dict) else push
                ethertype = push.get('eth_type', 0x8100) if isinstance(push, dict) else 0x8100
                if _is_int(vid) and _is_int(ethertype):
                    steps.append(('push_vlan', ethertype, vid))
            return steps
        if key == 'tunnel':
            return [self._tunnel(acl, path, _of_type(value, dict, {}), match)]
        if key == 'set_fields':
            steps = []
            for index, item in enumerate(_of_type(value, list, [])):
                if isinstance(item, dict) and len(item) == 1:
                    [(name, field_value)] = item.items()
                    step = self._set_field(path + (index, name), name, field_value, match)
                    if step is not None:
                        steps.append(step)
            return steps
        return []

    def _tunnel(self, acl, path, conf, match):
        """A placeholder step for the tunnel at ``path``; _tunnels resolves it (its
        destination and id) once the switches and VLANs are read."""
        exit_path = path + ('exit_instructions',)
        rewrites = []
        for index, action in enumerate(_of_type(conf.get('exit_instructions'), list, [])):
            outputs = [key for key in _of_type(action, dict, {}) if key not in _REWRITE_KEYS]
            for key in outputs:
                self.issue(
                    exit_path + (index, key),
                    "exit_instructions rewrite the packet before the tunnel's port (%s); "
                    "'%s' does not" % (', '.join(_REWRITE_KEYS), key),
                    at_key=True,
                )
            if action and not outputs:
                rewrites.append(action)
        steps = tuple(self._output(acl, exit_path, rewrites, match))
        self.pending_tunnels.append(tunnel.Pending(acl, path, conf, steps))
        return ('tunnel', len(self.pending_tunnels) - 1)

    def _tunnels(self, policy):
        """``policy`` with its tunnels resolved, and the checks that need the whole
        policy: where the ACLs of tunnels are applied (tunnel.py)."""
        resolved = tunnel.resolve(self.pending_tunnels, self.vlans, policy.dps, self.issue)
        where = {}
        for index, found in sorted(resolved.items()):
            where.setdefault(found, self.pending_tunnels[index].path)

        def resolve_steps(rule):
            steps = tuple(
                ('tunnel', resolved[step[1]]) if step[0] == 'tunnel' else step
                for step in rule.actions.output
                if step[0] != 'tunnel' or step[1] in resolved
            )
            return replace(rule, actions=replace(rule.actions, output=steps))

        policy = replace(
            policy,
            acls=FrozenDict(
                {name: tuple(map(resolve_steps, rules)) for name, rules in policy.acls.items()}
            ),
        )
        for vlan in policy.vlans.values():
            for name in vlan.acls_in:
                for found in tunnel.tunnels_of(policy.acls[name]):
                    self.issue(
                        where[found],
                        "ACL '%s' is applied to VLAN '%s': tunnels are taken in from ports "
                        '(acls_in) and dp_acls, not VLAN ACLs (as in FAUCET)' % (name, vlan.name),
                    )
        sources = tunnel.sources(policy)
        for rules in policy.acls.values():
            for rule in rules:
                for found in tunnel.tunnels_of((rule,)):
                    here = found.dp in {dp for dp, _ in sources.get(found, ())}
                    if (
                        rule.actions.allow
                        and here
                        and (found.exit_instructions or found.maintain_encapsulation)
                    ):
                        self.issue(
                            where[found],
                            'a tunnel that ends on its own switch with exit_instructions or '
                            'maintain_encapsulation rewrites the packet: its rule cannot also '
                            'allow it; write allow: false, or a second rule',
                        )
        for found, problem in tunnel.exits(policy)[1] + tunnel.unreachable(policy):
            self.issue(where[found], problem)
        return policy

    def _failover(self, acl, path, conf):
        """FAUCET's failover output: the fast-failover group ``group_id`` over
        ``ports``. A group id names one group: ACLs that share it list the same ports."""
        group_id = _of_type(conf.get('group_id'), int)
        ports = []
        for index, ref in enumerate(_of_type(conf.get('ports'), list, [])):
            port = _port_ref(ref)
            if port is not None:
                self.acl_ports.setdefault(acl, []).append((path + ('ports', index), port))
                ports.append(port)
        if group_id is None or not ports:
            return []
        known = self.failover_groups.setdefault(group_id, (ports, path))
        if known[0] != ports:
            self.issue(
                path + ('ports',),
                'failover group %d is already used over ports %s at line %s; one group id '
                'names one group' % (group_id, _listed(known[0]), self.source.line_of(known[1])),
            )
        return [('failover', group_id, tuple(ports))]

    def _set_field(self, path, key, value, match):
        """('set_field', field, value), or None with the problem reported: a field OVS
        can set, a plain value (no mask), and the rule matching the field's
        prerequisites (OVS refuses to set ipv4_dst on a rule that does not match IPv4)."""
        name = ofmatch.field_name(key)
        if name not in _SETTABLE:
            self.issue(
                path,
                "cannot set '%s'; set_fields takes %s" % (key, ', '.join(sorted(_SETTABLE))),
                at_key=True,
            )
            return None
        try:
            parsed = ofmatch.MATCH_FIELDS[name].parse(value, self.source.plain.get(path))
        except ValueError as error:
            self.issue(path, str(error))
            return None
        if isinstance(parsed, tuple):
            self.issue(path, 'set_fields takes a value, not a value/mask')
            return None
        for field, wanted in _SET_PREREQUISITES.get(name, ()):
            if match.get(field) != wanted:
                shown = '0x%x' % wanted if field == 'eth_type' else wanted
                self.issue(path, 'setting %s needs the rule to match %s: %s' % (name, field, shown))
                return None
        return ('set_field', name, parsed)

    def _acl_refs(self, path, conf, key='acls_in'):
        """The ACL names of ``acls_in`` (or FAUCET's older ``acl_in``; or ``key``) at
        ``path``."""
        single = {'acls_in': 'acl_in', 'acls_out': 'acl_out'}.get(key)
        if single in conf and key in conf:
            self.issue(path + (single,), '%s and %s both given; use %s' % (single, key, key))
            return ()
        if single in conf:
            refs = [(path + (single,), conf[single])]
        else:
            refs = [
                (path + (key, index), ref)
                for index, ref in enumerate(_of_type(conf.get(key), list, []))
            ]
        names = []
        for ref_path, ref in refs:
            if not isinstance(ref, (str, int)) or isinstance(ref, bool):
                continue
            name = str(ref)
            if name not in self.acl_names:
                self.issue(
                    ref_path, "unknown ACL '%s'; defined ACLs: %s" % (name, _listed(self.acl_names))
                )
            elif name in names:
                self.issue(ref_path, "ACL '%s' is listed twice" % name)
            else:
                names.append(name)
        return tuple(names)

    # --- VLANs -------------------------------------------------------------------------

    def _vlans(self, conf):
        for key_text, vlan in conf.items():
            path = ('vlans', key_text)
            if vlan is None:  # FAUCET: an empty body (keyed by VID, checked below)
                vlan = {}
            if not isinstance(vlan, dict):
                continue
            key = self.source.keys[path]
            # FAUCET: a VLAN keyed by its VID may leave out 'vid'.
            vid = vlan.get('vid', key if _is_int(key) else None)
            if 'vid' not in vlan and not _is_int(key):
                self.issue(path, "missing key 'vid' (a VID, an integer 1..4094)", at_key=True)
            name = _of_type(vlan.get('name'), str, key_text)
            if name != key_text and key_text != str(vid):
                self.issue(
                    path + ('name',),
                    "name '%s' differs from the key '%s'; the key "
                    "must be the VLAN's name or its VID" % (name, key_text),
                )
            if name in self.vlan_keys:
                self.issue(
                    path,
                    "VLAN name '%s' is already used by vlans.%s (line %s)"
                    % (name, self.vlan_keys[name], self._line('vlans', name)),
                    at_key=True,
                )
                continue
            self.vlan_keys[name] = key_text
            if not (_is_int(vid) and ofmatch.MIN_VID <= vid <= ofmatch.MAX_VID):
                if 'vid' not in vlan and _is_int(vid):  # the key; a 'vid' is the schema's
                    self.issue(
                        path,
                        '%d is out of range; expected a VID, an integer 1..4094' % vid,
                        at_key=True,
                    )
                continue
            if vid in self.vlan_by_vid:
                other = self.vlan_by_vid[vid].name
                self.issue(
                    path + ('vid',) if 'vid' in vlan else path,
                    "VID %d is already used by VLAN '%s' (line %s)"
                    % (vid, other, self._line('vlans', other)),
                    at_key='vid' not in vlan,
                )
                continue
            self.vlans[name] = self.vlan_by_vid[vid] = Vlan(
                name=name,
                vid=vid,
                description=_of_type(vlan.get('description'), str),
                acls_in=self._acl_refs(path, vlan),
                acls_out=self._acl_refs(path, vlan, key='acls_out'),
                max_hosts=_of_type(vlan.get('max_hosts'), int),
                faucet_vips=self._vips(path, vlan.get('faucet_vips')),
                faucet_mac=self._faucet_mac(path, vlan),
                routes=routing.parse_routes(path + ('routes',), vlan.get('routes'), self.issue),
                targeted_gw_resolution=vlan.get('targeted_gw_resolution') is True,
                minimum_ip_size_check=vlan.get('minimum_ip_size_check') is not False,
                reserved_internal_vlan=vlan.get('reserved_internal_vlan') is True,
            )

    def _vips(self, path, vips):
        """FAUCET's faucet_vips: the VLAN's router addresses, each with its prefix."""
        found = []
        for index, text in enumerate(_of_type(vips, list, [])):
            if not isinstance(text, str):
                continue
            vip_path = path + ('faucet_vips', index)
            try:
                vip = ipaddress.ip_interface(text.strip())
            except ValueError:
                self.issue(
                    vip_path,
                    'expected an address with its prefix, like 10.0.0.254/24; got %r' % text,
                )
                continue
            if vip.network.prefixlen == vip.max_prefixlen:
                self.issue(
                    vip_path,
                    '%s is a host address; a VIP needs the prefix of its subnet, '
                    'like 10.0.0.254/24 (as in FAUCET)' % text,
                )
                continue
            if vip.ip in self.vip_owner:
                self.issue(
                    vip_path, '%s is already a VIP of VLAN %s' % (vip.ip, self.vip_owner[vip.ip])
                )
                continue
            self.vip_owner[vip.ip] = path[-1]
            found.append(str(vip))
        return tuple(found)

    def _faucet_mac(self, path, vlan, key='faucet_mac'):
        if key not in vlan:
            return FAUCET_MAC
        mac_path = path + (key,)
        text = self.source.plain.get(mac_path, vlan[key])
        parts = str(text).strip().lower().replace('-', ':').split(':')
        if len(parts) != 6 or not all(re.fullmatch('[0-9a-f]{1,2}', part) for part in parts):
            self.issue(mac_path, 'expected a MAC address like 0e:00:00:00:00:01; got %r' % text)
            return FAUCET_MAC
        mac = ':'.join(part.zfill(2) for part in parts)
        if key == 'faucet_mac' and int(parts[0], 16) & 1:
            self.issue(mac_path, '%s is a group (multicast) address; a router MAC is unicast' % mac)
        return mac

    def _line(self, section, name):
        """The line of the VLAN or switch ``name`` (for 'already used by ... (line N)')."""
        key = self.vlan_keys.get(name, name) if section == 'vlans' else name
        return self.source.line_of((section, key))

    def _vlan_ref(self, path, ref):
        """The Vlan that ``ref`` (a name, or a VID) names. None if it names none (which is
        reported) or a VLAN that is itself wrong (which was reported)."""
        if not isinstance(ref, (str, int)) or isinstance(ref, bool):
            return None
        if str(ref) in self.vlan_keys:
            return self.vlans.get(str(ref))
        if _decimal(str(ref)) and int(ref) in self.vlan_by_vid:
            return self.vlan_by_vid[int(ref)]
        if _is_int(ref):
            return self._implicit_vlan(path, ref)
        self.issue(path, "unknown VLAN '%s'; defined VLANs: %s" % (ref, _listed(self.vlan_keys)))
        return None

    def _implicit_vlan(self, path, vid):
        """As in FAUCET, a VID used as a number without a 'vlans' entry is a VLAN of
        its own, named by its VID."""
        if not ofmatch.MIN_VID <= vid <= ofmatch.MAX_VID:
            self.issue(path, '%d is out of range; expected a VID, an integer 1..4094' % vid)
            return None
        vlan = Vlan(name=str(vid), vid=vid)
        self.vlans[vlan.name] = self.vlan_by_vid[vid] = vlan
        self.vlan_keys[vlan.name] = vlan.name
        return vlan

    # --- switches ----------------------------------------------------------------------

    def _dps(self, conf):
        dps, by_id = {}, {}
        for name, dp in conf.items():
            path = ('dps', name)
            if not isinstance(dp, dict):
                continue
            if 'name' in dp and dp['name'] != name:
                self.issue(
                    path + ('name',),
                    "name '%s' differs from the key '%s'; the key "
                    "is the switch's name" % (dp['name'], name),
                )
            dp_id = self._dp_id(path, dp)
            if dp_id in by_id:
                self.issue(
                    path + ('dp_id',) if 'dp_id' in dp else path,
                    'dp_id %d (0x%x) is already used by dps.%s (line %s)'
                    % (dp_id, dp_id, by_id[dp_id], self._line('dps', by_id[dp_id])),
                    at_key='dp_id' not in dp,
                )
            elif dp_id is not None:
                by_id[dp_id] = name
            if 'interfaces' not in dp and 'interface_ranges' not in dp:
                self.issue(
                    path,
                    "missing key 'interfaces' (a mapping of port number -> interface settings)",
                    at_key=True,
                )
            confs = _of_type(dp.get('interfaces'), dict, {})
            ranges = _of_type(dp.get('interface_ranges'), dict, {})
            interfaces = self._interfaces(path, name, confs, ranges)
            # What the file writes counts (a misspelt VLAN has its own message), and
            # FAUCET's port kinds without VLANs (stack, coprocessor), refused by name
            # already.
            if (confs or ranges) and not any(
                isinstance(conf, dict)
                and (
                    conf.get('native_vlan') is not None
                    or conf.get('tagged_vlans')
                    or conf.get('output_only') is True
                    or 'stack' in conf
                    or 'coprocessor' in conf
                )
                for conf in list(confs.values()) + list(ranges.values())
            ):
                self.issue(
                    path + ('interfaces',),
                    'no VLANs referenced by interfaces in %s: a switch needs a port with a '
                    'native_vlan or tagged_vlans (or an output_only port), as in FAUCET' % name,
                    at_key=True,
                )
            if dp_id is not None:
                dps[name] = Datapath(
                    name=name,
                    dp_id=dp_id,
                    interfaces=interfaces,
                    description=_of_type(dp.get('description'), str),
                    hardware=_of_type(dp.get('hardware'), str, OVS_HARDWARE),
                    ignore_learn_ins=_of_type(dp.get('ignore_learn_ins'), int, 0),
                    packetin_pps=_of_type(dp.get('packetin_pps'), int, 0),
                    slowpath_pps=_of_type(dp.get('slowpath_pps'), int, 0),
                    combinatorial_port_flood=dp.get('combinatorial_port_flood') is not False,
                    ofchannel_log=self._ofchannel_log(path, dp.get('ofchannel_log')),
                    lldp_beacon=FrozenDict(_of_type(dp.get('lldp_beacon'), dict, {})),
                    dp_acls=self._dp_acls(path, dp, interfaces),
                    priority_offset=_of_type(dp.get('priority_offset'), int, 0),
                    stack_priority=_of_type(
                        _of_type(dp.get('stack'), dict, {}).get('priority'), int
                    ),
                    faucet_dp_mac=(
                        self._faucet_mac(path, dp, 'faucet_dp_mac')
                        if 'faucet_dp_mac' in dp
                        else None
                    ),
                    lacp_timeout=_of_type(dp.get('lacp_timeout'), int, 30),
                    min_lacp_health=_of_type(
                        _of_type(dp.get('stack'), dict, {}).get('min_lacp_health'), (int, float)
                    ),
                    use_idle_timeout=dp.get('use_idle_timeout') is True,
                    layout=layout_options(dp),
                    **self._stack_health(path + ('stack',), _of_type(dp.get('stack'), dict, {})),
                )
            if dp.get('group_table') is True and dp.get('combinatorial_port_flood') is True:
                self.issue(
                    path + ('group_table',),
                    'group_table and combinatorial_port_flood: true cannot be combined (as '
                    'in FAUCET: a flood group per VLAN floods to all its ports)',
                )
        return dps

    def _stack_health(self, path, stack):
        """The Datapath fields of FAUCET's root election options (docs/fabric.md)."""
        health = stack.get('min_stack_health', 1.0)
        if not isinstance(health, float) or not 0.0 <= health <= 1.0:
            if 'min_stack_health' in stack and isinstance(health, (int, float)):
                self.issue(
                    path + ('min_stack_health',),
                    'expected a fraction 0.0..1.0 written with a point, as FAUCET reads it; '
                    'got %r' % health,
                )
            health = 1.0
        return {
            'min_stack_health': health,
            'down_time_multiple': _of_type(stack.get('down_time_multiple'), int, 3),
            'route_learning': stack.get('route_learning') is True,
        }

    def _ofchannel_log(self, path, log):
        """FAUCET's ofchannel_log: a file the app appends to. Only a regular file (or
        one still to be made in an existing directory) or /dev/null: appending OpenFlow
        messages to a device or a FIFO is never meant."""
        if not isinstance(log, str):
            return None
        real = os.path.realpath(log)
        if real == os.devnull or (
            not os.path.exists(real) and os.path.isdir(os.path.dirname(real))
        ):
            return log
        if not os.path.isfile(real):
            self.issue(
                path + ('ofchannel_log',),
                '%s is not a regular file (nor a new one in an existing directory)' % log,
            )
            return None
        return log

    def _dp_acls(self, path, dp, interfaces):
        """FAUCET's dp_acls: ACLs for every packet the switch takes in, which (as in
        FAUCET) a port's acls_in cannot be used with."""
        names = self._acl_refs(path, dp, key='dp_acls')
        if names:
            for number, intf in interfaces.items():
                if intf.acls_in:
                    self.issue(
                        path + ('dp_acls',),
                        'dp_acls cannot be used with port ACLs (as in FAUCET): port %d has '
                        'acls_in' % number,
                    )
                    break
        return names

    def _dp_id(self, path, dp):
        if 'dp_id' not in dp:
            key = self.source.keys[path]
            if _is_int(key) and 0 <= key <= schema.MAX_DP_ID:
                return key  # FAUCET: a switch keyed by its dp_id
            self.issue(
                path, "missing key 'dp_id' (the switch's datapath id, like 0x1)", at_key=True
            )
            return None
        try:
            dp_id = parse_int(dp['dp_id'])
        except ValueError:
            return None  # the schema said what is wrong with it
        if not 0 <= dp_id <= schema.MAX_DP_ID:
            self.issue(
                path + ('dp_id',),
                '%s is out of range; expected a datapath id, an integer 0..2**64-1' % dp['dp_id'],
            )
            return None
        return dp_id

    def _interfaces(self, dp_path, dp_name, conf, ranges):
        path = dp_path + ('interfaces',)
        by_number, by_name = {}, {}  # port -> key; interface name -> port
        for key_text, intf in conf.items():
            intf_path = path + (key_text,)
            number, name = self._port_identity(intf_path, key_text, _of_type(intf, dict, {}))
            if number is None:
                continue
            if number in by_number:
                first = by_number[number]
                line = self.source.line_of(path + (first,))
                self.issue(
                    intf_path,
                    'port %d is already defined by interfaces.%s (line %s)' % (number, first, line),
                    at_key=True,
                )
            elif name in by_name:
                self.issue(
                    intf_path,
                    "interface name '%s' is already used by port %d" % (name, by_name[name]),
                    at_key=True,
                )
            else:
                by_number[number], by_name[name] = key_text, number
        paths = {number: path + (key_text,) for number, key_text in by_number.items()}
        confs = {
            number: conf[key_text]
            for number, key_text in by_number.items()
            if isinstance(conf[key_text], dict)
        }
        for number, range_path, range_conf in self._port_ranges(dp_path, ranges):
            if number in confs:  # as FAUCET: the port's own settings win
                confs[number] = dict(range_conf, **confs[number])
            elif number not in paths:
                confs[number], paths[number] = range_conf, range_path
                by_number[number] = str(number)
                by_name.setdefault(str(number), number)
        ports = _Ports(dp_name, by_number, by_name)
        name_of = {number: name for name, number in by_name.items()}
        mirrors = {
            number: self._mirror_refs(
                paths[number] + ('mirror',), number, intf.get('mirror'), ports
            )
            for number, intf in confs.items()
        }
        self._check_mirror_chains(mirrors)
        interfaces = {}
        for number in sorted(confs):
            if isinstance(confs[number].get('stack'), dict):
                self.stack_refs.append((dp_name, number, paths[number], confs[number]['stack']))
            interfaces[number] = self._interface(
                paths[number],
                number,
                name_of.get(number, str(number)),
                confs[number],
                tuple(sorted(port for port, _ in mirrors[number])),
            )
        for path, message in lag_issues(interfaces, paths, confs):
            self.issue(path, message)
        return FrozenDict(interfaces)

    def _port_ranges(self, dp_path, ranges):
        """(port, path of its range, settings) of FAUCET's interface_ranges: keys like
        '1-4,6'; ranges may not overlap."""
        found, owner = [], {}
        for key_text, conf in ranges.items():
            path = dp_path + ('interface_ranges', key_text)
            if not isinstance(conf, dict):
                continue
            if 'number' in conf:
                self.issue(path + ('number',), 'a range of ports has no one number')
            numbers = set()
            for part in key_text.split(','):
                bounds = part.strip().split('-')
                if not all(_decimal(b.strip()) for b in bounds) or len(bounds) > 2:
                    self.issue(path, "'%s' is not a port range like 1-4,6" % key_text, at_key=True)
                    numbers = set()
                    break
                low, high = int(bounds[0]), int(bounds[-1])
                if len(bounds) == 2 and low >= high or not 1 <= low <= ofmatch.OFPP_MAX:
                    self.issue(path, 'incorrect port range %s' % part.strip(), at_key=True)
                    numbers = set()
                    break
                if high - low + len(numbers) + len(owner) >= MAX_RANGE_PORTS:
                    self.issue(
                        path,
                        'the ranges of a switch cover at most %d ports' % MAX_RANGE_PORTS,
                        at_key=True,
                    )
                    return found
                numbers.update(range(low, high + 1))
            overlap = sorted(numbers & set(owner))
            if overlap:
                self.issue(
                    path,
                    'port %d is already in the range %s; ranges cannot overlap'
                    % (overlap[0], owner[overlap[0]]),
                    at_key=True,
                )
                continue
            owner.update(dict.fromkeys(numbers, key_text))
            found += [(number, path, conf) for number in sorted(numbers)]
        return found

    def _port_identity(self, path, key_text, intf):
        """(port number, interface name) of an interface, or (None, None). FAUCET keys an
        interface by its port number, or by its name with the number under 'number'."""
        key = self.source.keys[path]
        number = _of_type(intf.get('number'), int)
        name = _of_type(intf.get('name'), str, key_text)
        if _is_int(key) or _decimal(key_text):
            key_number = int(key_text)
            if key_number == ofmatch.OFPP_IN_PORT and intf.get('output_only') is True:
                # FAUCET needs the reserved port declared to output to it; here an ACL
                # outputs to IN_PORT on any switch, and it is no port of the switch.
                for key in set(intf) - {'output_only', 'description'}:
                    self.issue(
                        path + (key,),
                        "port 0xfffffff8 is OpenFlow's IN_PORT, declared only as "
                        'output_only: %s does not apply' % key,
                        at_key=True,
                    )
                return None, None
            if not 1 <= key_number <= ofmatch.OFPP_MAX:
                self.issue(
                    path,
                    'port %d is out of range; expected a port number 1..0xffffff00' % key_number,
                    at_key=True,
                )
                return None, None
            if number is not None and number != key_number:
                self.issue(
                    path + ('number',),
                    'number %d differs from the key %d; the key '
                    'must be the port number or the interface name' % (number, key_number),
                )
                return None, None
            return key_number, name
        if name != key_text:
            self.issue(
                path + ('name',),
                "name '%s' differs from the key '%s'; the key "
                "must be the port number or the interface name" % (name, key_text),
            )
        if 'number' not in intf:
            self.issue(
                path,
                "interface '%s' has no port number: key it by its number, or "
                "add number: <port>" % key_text,
                at_key=True,
            )
        return number, name

    def _mirror_refs(self, path, number, value, ports):
        """[(port, path)] of the ports that port ``number`` mirrors."""
        if value is None:
            return []
        refs = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
        mirrored = []
        for index, ref in refs:
            ref_path = path if index is None else path + (index,)
            port, problem = ports.resolve(ref)
            if problem:
                self.issue(ref_path, problem)
            if port is None:
                continue
            if port == number:
                self.issue(ref_path, 'a port cannot mirror itself')
            elif port in (known for known, _ in mirrored):
                self.issue(ref_path, 'port %d is listed twice' % port)
            else:
                mirrored.append((port, ref_path))
        return mirrored

    def _check_mirror_chains(self, mirrors):
        """A mirrored port may not be a mirror port itself: its copies would be copied
        again, and mirror ports that mirror each other would copy forever."""
        for number, mirrored in sorted(mirrors.items()):
            for port, ref_path in mirrored:
                if not mirrors.get(port):
                    continue
                loop = _mirror_path(mirrors, port, number)
                if loop:
                    if number == min(loop):  # one message per loop, at its lowest port
                        self.issue(
                            ref_path,
                            'mirror loop: port %d mirrors %s'
                            % (number, ', which mirrors '.join('port %d' % p for p in loop)),
                        )
                else:
                    self.issue(
                        ref_path,
                        'port %d is itself a mirror port (it mirrors %s); '
                        'a mirror port cannot be mirrored'
                        % (port, _listed('port %d' % p for p, _ in mirrors[port])),
                    )

    def _interface(self, path, number, name, conf, mirror):
        native = (
            self._vlan_ref(path + ('native_vlan',), conf['native_vlan'])
            if 'native_vlan' in conf
            else None
        )
        tagged = []
        tagged_names = set()  # (a list's `in` compared whole VLANs: trunks of every VLAN)
        for index, ref in enumerate(_of_type(conf.get('tagged_vlans'), list, [])):
            ref_path = path + ('tagged_vlans', index)
            vlan = self._vlan_ref(ref_path, ref)
            if vlan is None:
                continue
            if native is not None and vlan.name == native.name:
                self.issue(
                    ref_path,
                    "VLAN '%s' is this port's native_vlan too; a port "
                    "carries a VLAN either untagged (native_vlan) or tagged, not "
                    "both" % vlan.name,
                )
            elif vlan.name in tagged_names:
                self.issue(ref_path, "VLAN '%s' is listed twice" % vlan.name)
            else:
                tagged.append(vlan)
                tagged_names.add(vlan.name)
        for key, vlan in [('native_vlan', native)] + [('tagged_vlans', v) for v in tagged]:
            if vlan is not None and vlan.reserved_internal_vlan:
                self.issue(
                    path + (key,),
                    "VLAN '%s' is reserved for tunnels (reserved_internal_vlan): no port "
                    'carries it' % vlan.name,
                )
        output_only = conf.get('output_only') is True
        if 'stack' in conf:
            # As in FAUCET: a stack port carries every VLAN of the fabric, tagged
            for key in ('native_vlan', 'tagged_vlans', 'max_hosts', 'permanent_learn'):
                if key in conf:
                    self.issue(
                        path + (key,),
                        'port %d is a stack port, which carries every VLAN of the stack '
                        'tagged: %s does not apply' % (number, key),
                    )
            for key in ('mirror', 'output_only', 'coprocessor'):
                if key in conf:
                    self.issue(path + (key,), 'a stack port cannot be %s' % key.replace('_', '-'))
        elif 'coprocessor' in conf:
            # As in FAUCET: a coprocessor port takes no part in VLANs (its frames say
            # where they go); it may mirror, and take ACLs
            for key in (
                'native_vlan',
                'tagged_vlans',
                'max_hosts',
                'permanent_learn',
                'output_only',
            ):
                if key in conf:
                    self.issue(
                        path + (key,),
                        'port %d is a coprocessor port, which carries no VLAN of its own: '
                        '%s does not apply' % (number, key),
                    )
        elif mirror or output_only:
            # As in FAUCET: a mirror or output-only port takes no part in VLANs.
            role = 'a mirror port' if mirror else 'output_only'
            for key in ('native_vlan', 'tagged_vlans', 'acls_in', 'acl_in', 'max_hosts'):
                if key in conf:
                    self.issue(
                        path + (key,),
                        'port %d is %s, which carries no VLAN '
                        'traffic: %s does not apply' % (number, role, key),
                    )
        return Interface(
            port=number,
            name=name,
            description=_of_type(conf.get('description'), str),
            native_vlan=native,
            tagged_vlans=tuple(sorted(tagged, key=lambda v: v.vid)),
            acls_in=self._acl_refs(path, conf),
            mirror=mirror,
            max_hosts=_of_type(conf.get('max_hosts'), int),
            enabled=conf.get('enabled') is not False,
            output_only=output_only,
            permanent_learn=conf.get('permanent_learn') is True,
            restricted_bcast_arpnd=conf.get('restricted_bcast_arpnd') is True,
            lacp=lacp_options(conf),
            **self._port_options(path, number, conf, bool(mirror or output_only)),
        )

    def _port_options(self, path, number, conf, no_vlans):
        """The Interface fields of FAUCET's per-port options (portopts.py), checked
        as FAUCET checks them."""
        role = next(
            (
                what
                for key, what in (
                    ('stack', 'a stack port'),
                    ('coprocessor', 'a coprocessor port'),
                )
                if key in conf
            ),
            'a mirror or output_only port' if no_vlans else None,
        )
        for key in _VLAN_PORT_OPTIONS:
            if role is not None and conf.get(key) not in (None, False, {}):
                self.issue(
                    path + (key,),
                    'port %d is %s, which carries no VLAN traffic: %s does not apply'
                    % (number, role, key),
                )
        peer_mac = _of_type(conf.get('lldp_peer_mac'), str)
        if peer_mac is not None and not _MAC.match(peer_mac):
            self.issue(
                path + ('lldp_peer_mac',),
                "'%s' is not a MAC address like 0e:00:00:00:00:01" % peer_mac,
            )
            peer_mac = None
        beacon = _of_type(conf.get('lldp_beacon'), dict, {})
        coprocessor = _of_type(conf.get('coprocessor'), dict)
        return {
            'hairpin': conf.get('hairpin') is True,
            'loop_protect': conf.get('loop_protect') is True,
            'loop_protect_external': conf.get('loop_protect_external') is True,
            'receive_lldp': conf.get('receive_lldp') is True,
            'lldp_peer_mac': peer_mac.lower() if peer_mac else None,
            'lldp_beacon': Beacon(
                _of_type(beacon.get('system_name'), str),
                _of_type(beacon.get('port_descr'), str),
                tuple(
                    (tlv['oui'], tlv['subtype'], tlv['info'])
                    for tlv in _of_type(beacon.get('org_tlvs'), list, [])
                    if isinstance(tlv, dict)
                    and _is_int(tlv.get('oui'))
                    and _is_int(tlv.get('subtype'))
                    and isinstance(tlv.get('info'), str)
                ),
            )
            if beacon.get('enable') is True
            else None,
            'coprocessor': _of_type(
                coprocessor.get('vlan_vid_base', portopts.DEFAULT_VID_BASE), int
            )
            if coprocessor is not None
            else None,
        }

    # --- stacking (FAUCET's fabric of switches) ----------------------------------------

    def _stacking(self, dps):
        """``dps`` with their stack ports resolved to (peer switch name, peer port).
        As FAUCET: each link is declared on both ends, and they agree; some switch
        has a stack priority (the lowest is the root); every switch with stack ports
        is connected to the root."""
        by_id = {dp.dp_id: name for name, dp in dps.items()}
        declared = {}  # (switch, port) -> (peer switch, peer port)
        where = {}  # (switch, port) -> path
        for name, port, path, conf in self.stack_refs:
            where[(name, port)] = path
            peer = self._stack_peer(path, conf, dps, by_id)
            if peer is not None:
                if peer == (name, port):
                    self.issue(path + ('stack',), 'a stack port cannot be cabled to itself')
                else:
                    declared[(name, port)] = peer
        links = {}
        for end, peer in sorted(declared.items()):
            back = declared.get(peer)
            if back == end:
                links[end] = peer
                continue
            if peer in where and back is None:
                continue  # the peer's own stack settings are wrong, and reported
            detail = (
                'is not a stack port' if peer not in where else 'is stacked to %s port %d' % back
            )
            self.issue(
                where[end] + ('stack',),
                'stack link to %s port %d is declared on one end only: %s port %d %s '
                '(as in FAUCET, both ends of a link declare it)' % (peer + peer + (detail,)),
            )
        if not self.stack_refs:
            return dps
        candidates = sorted(
            (dp.stack_priority, dp.dp_id, name)
            for name, dp in dps.items()
            if dp.stack_priority is not None
        )
        first = self.stack_refs[0]
        if not candidates:
            self.issue(
                first[2] + ('stack',),
                'stacking enabled but no root: give one switch stack: {priority: 1} '
                '(the lowest priority is the root, as in FAUCET)',
            )
            return dps
        root = candidates[0][2]
        graph = nx.Graph()
        graph.add_nodes_from({name for name, _, _, _ in self.stack_refs} | {root})
        graph.add_edges_from((a, b) for (a, _), (b, _) in links.items())
        first_port = {}
        for name, _port, path, _ in self.stack_refs:
            first_port.setdefault(name, path)
        for name, path in first_port.items():
            if not nx.has_path(graph, name, root):
                self.issue(
                    path + ('stack',),
                    '%s is not connected to the stack root %s by stack links' % (name, root),
                )
        return {
            name: replace(
                dp,
                interfaces=FrozenDict(
                    {
                        port: replace(intf, stack=links.get((name, port)))
                        for port, intf in dp.interfaces.items()
                    }
                ),
            )
            for name, dp in dps.items()
        }

    def _stack_peer(self, path, conf, dps, by_id):
        """(switch name, port number) that a stack port's settings name, or None
        (reported)."""
        ref, port_ref = conf.get('dp'), conf.get('port')
        if isinstance(ref, bool) or not isinstance(ref, (str, int)):
            return None
        name = ref if ref in dps else by_id.get(ref) if _is_int(ref) else None
        if name is None:
            self.issue(
                path + ('stack', 'dp'),
                "unknown switch '%s'; defined switches: %s" % (ref, _listed(dps)),
            )
            return None
        peer = dps[name]
        number = peer.port_of(_port_ref(port_ref)) if _port_ref(port_ref) is not None else None
        if number is None:
            if isinstance(port_ref, (str, int)) and not isinstance(port_ref, bool):
                self.issue(
                    path + ('stack', 'port'),
                    'port %s does not exist on dp %s; its ports: %s'
                    % (port_ref, name, _listed(str(n) for n in peer.interfaces)),
                )
            return None
        return name, number

    # --- ACL ports, per switch ---------------------------------------------------------

    def _check_acl_ports(self, dps):
        """Every port an ACL mirrors or outputs to exists on each switch that applies the
        ACL (to a port, or to a VLAN that one of its ports carries)."""
        for dp in dps.values():
            applied = {}  # ACL name -> where on this switch
            for acl in dp.dp_acls:
                applied.setdefault(acl, []).append('dp_acls')
            for number, intf in dp.interfaces.items():
                for acl in intf.acls_in:
                    applied.setdefault(acl, []).append('port %d' % number)
            vlans = {vlan for intf in dp.interfaces.values() for vlan in intf.vlans}
            for vlan in sorted(vlans, key=lambda v: v.vid):
                for acl in vlan.acls_in + vlan.acls_out:
                    applied.setdefault(acl, []).append("VLAN '%s'" % vlan.name)
            for acl, where in applied.items():
                for path, port in self.acl_ports.get(acl, ()):
                    if dp.port_of(port) is None:
                        self.issue(
                            path,
                            "port %s does not exist on dp %s, where ACL '%s' "
                            'is applied to %s; its ports: %s'
                            % (
                                port,
                                dp.name,
                                acl,
                                ', '.join(where),
                                _listed(
                                    '%d (%s)' % (n, i.name) if i.name != str(n) else str(n)
                                    for n, i in dp.interfaces.items()
                                ),
                            ),
                        )


class _Ports:
    """The ports of one switch, by number and by interface name."""

    def __init__(self, dp_name, by_number, by_name):
        self.dp_name, self.by_number, self.by_name = dp_name, by_number, by_name

    def resolve(self, ref: Any) -> tuple[int | None, str | None]:
        """(port number, None) for the port ``ref`` (a number or an interface name)
        names; (None, what is wrong) if it names none; (None, None) for a value that is
        neither (the schema reported it)."""
        if isinstance(ref, str) and ref in self.by_name:
            return self.by_name[ref], None
        if isinstance(ref, str) and _decimal(ref):
            ref = int(ref)
        if _is_int(ref):
            if ref in self.by_number:
                return ref, None
            return None, 'port %d does not exist on dp %s; its ports: %s' % (
                ref,
                self.dp_name,
                _listed(sorted(self.by_number)),
            )
        if isinstance(ref, str):
            return None, "no interface named '%s' on dp %s; its interfaces: %s" % (
                ref,
                self.dp_name,
                _listed(self.by_name),
            )
        return None, None


# interface_ranges of one switch expand to at most this many ports (a hostile range
# like 1-4294967040 would otherwise be billions of interfaces).
MAX_RANGE_PORTS = 4096
_METER_FLAGS = frozenset(('KBPS', 'PKTPS', 'BURST', 'STATS'))
# set_fields: the fields Open vSwitch sets, and what the rule must match to set them.
_SET_PREREQUISITES = {
    'ipv4_src': [('eth_type', ofmatch.ETH_IPV4)],
    'ipv4_dst': [('eth_type', ofmatch.ETH_IPV4)],
    'ipv6_src': [('eth_type', ofmatch.ETH_IPV6)],
    'ipv6_dst': [('eth_type', ofmatch.ETH_IPV6)],
    'tcp_src': [('ip_proto', 6)],
    'tcp_dst': [('ip_proto', 6)],
    'udp_src': [('ip_proto', 17)],
    'udp_dst': [('ip_proto', 17)],
}
_SETTABLE = frozenset(_SET_PREREQUISITES) | {'eth_src', 'eth_dst', 'vlan_vid'}
_REWRITE_KEYS = ('pop_vlans', 'vlan_vid', 'swap_vid', 'vlan_vids', 'set_fields')


def _port_ref(value):
    """A port in an ACL action: its number, or the name of an interface (resolved on
    each switch that applies the ACL); None for anything else (the schema said)."""
    if isinstance(value, str) and _decimal(value):
        return int(value)
    if _is_int(value) or isinstance(value, str):
        return value
    return None


def _decimal(text):
    return re.fullmatch('[0-9]+', text) is not None


def _mirror_path(mirrors, start, goal):
    """The ports from ``start`` along mirror links to ``goal`` ([start, ..., goal]), or
    None if ``goal`` cannot be reached."""
    parents, queue = {start: None}, [start]
    while queue:
        port = queue.pop(0)
        if port == goal:
            chain = []
            while port is not None:
                chain.append(port)
                port = parents[port]
            return chain[::-1]
        for nxt, _ in mirrors.get(port, ()):
            if nxt not in parents:
                parents[nxt] = port
                queue.append(nxt)
    return None
