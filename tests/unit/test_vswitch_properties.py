"""Generated policies: every valid one loads and survives model -> YAML -> model; a
corrupted one gives ConfigError (with placed, sorted errors) and never anything else."""

import ipaddress

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controller.config import ConfigError
from controller.vswitch import Policy, load_policy_text

NAMES = st.text(alphabet='abcdefgh-', min_size=1, max_size=6).filter(lambda name: name[0] != '-')
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Every switch has VLAN ports 1 and 2, so ACL actions may use them wherever applied.
ACL_PORTS = (1, 2)


def number_text(draw, value):
    """An int as a policy may write it: an int, or a decimal or hex string."""
    return draw(st.sampled_from([value, str(value), hex(value)]))


@st.composite
def macs(draw):
    octets = draw(st.binary(min_size=6, max_size=6))
    separator = draw(st.sampled_from([':', '-']))
    text = separator.join('%02x' % octet for octet in octets)
    return text.upper() if draw(st.booleans()) else text


@st.composite
def prefixes(draw, version):
    address = draw(st.ip_addresses(v=version))
    length = draw(st.integers(0, address.max_prefixlen))
    network = ipaddress.ip_network((address, length), strict=False)
    if length == address.max_prefixlen:
        return str(network.network_address)
    if version == 4 and draw(st.booleans()):
        return '%s/%s' % (network.network_address, network.netmask)
    return str(network)


@st.composite
def rules(draw):
    """One consistent rule: prerequisites written out or left to completion, in
    either spelling."""
    rule = {}
    if draw(st.booleans()):
        rule['in_port'] = draw(st.integers(1, 64))
    for field in ('eth_src', 'eth_dst'):
        if draw(st.integers(0, 3)) == 0:
            rule[draw(st.sampled_from([field, 'dl' + field[3:]]))] = draw(macs())
    if draw(st.booleans()):
        rule['vlan_vid'] = draw(st.integers(1, 4094))
    version = draw(st.sampled_from([None, 4, 6]))
    if version is not None:
        addresses = [f for f in ('src', 'dst') if draw(st.booleans())]
        for end in addresses:
            rule['ipv%d_%s' % (version, end)] = draw(prefixes(version))
        icmp = 'icmpv4' if version == 4 else 'icmpv6'
        transport = draw(st.sampled_from([None, 'tcp', 'udp', icmp]))
        implied = addresses or transport == icmp
        if not implied or draw(st.booleans()):
            rule[draw(st.sampled_from(['eth_type', 'dl_type']))] = number_text(
                draw, 0x800 if version == 4 else 0x86DD
            )
        if transport in ('tcp', 'udp'):
            for end in ('src', 'dst'):
                if draw(st.booleans()):
                    rule['%s_%s' % (transport, end)] = number_text(
                        draw, draw(st.integers(0, 65535))
                    )
        elif transport == icmp:
            rule[icmp + '_type'] = draw(st.integers(0, 255))
        if transport and draw(st.booleans()):
            proto = {'tcp': 6, 'udp': 17, 'icmpv4': 1, 'icmpv6': 58}[transport]
            rule[draw(st.sampled_from(['ip_proto', 'nw_proto']))] = proto
    elif draw(st.booleans()):
        rule['eth_type'] = draw(st.sampled_from([0x806, 0x88CC]))
    actions = {}
    if draw(st.booleans()):
        actions['allow'] = draw(st.sampled_from([True, False, 1, 0]))
    if draw(st.booleans()):
        actions['mirror'] = draw(st.sampled_from(ACL_PORTS))
    if draw(st.booleans()):
        actions['output'] = {'port': draw(st.sampled_from(ACL_PORTS))}
    if actions or draw(st.booleans()):
        rule['actions'] = actions or {'allow': True}
    if draw(st.booleans()):
        rule['description'] = draw(st.text(max_size=10))
    return {'rule': rule}


@st.composite
def policies(draw):
    """A valid policy as YAML-ready data, in FAUCET's layout."""
    vlan_names = draw(st.lists(NAMES, min_size=1, max_size=4, unique=True))
    vids = draw(
        st.lists(
            st.integers(1, 4094), min_size=len(vlan_names), max_size=len(vlan_names), unique=True
        )
    )
    acl_names = draw(st.lists(NAMES, max_size=3, unique=True))
    acls = {name: draw(st.lists(rules(), min_size=1, max_size=4)) for name in acl_names}
    vlans = {}
    for name, vid in zip(vlan_names, vids, strict=True):
        vlan = {'vid': vid}
        if draw(st.booleans()):
            vlan['description'] = draw(st.text(max_size=12))
        if acl_names and draw(st.booleans()):
            vlan['acls_in'] = draw(st.lists(st.sampled_from(acl_names), max_size=2, unique=True))
        if draw(st.booleans()):
            vlan['max_hosts'] = draw(st.integers(1, 1000))
        vlans[name] = vlan
    dp_names = draw(st.lists(NAMES, min_size=1, max_size=3, unique=True))
    dp_ids = draw(
        st.lists(
            st.integers(0, 2**64 - 1), min_size=len(dp_names), max_size=len(dp_names), unique=True
        )
    )
    dps = {}
    for name, dp_id in zip(dp_names, dp_ids, strict=True):
        ports = sorted(set(ACL_PORTS) | set(draw(st.lists(st.integers(3, 48), max_size=6))))
        interfaces = {}
        for port in ports:
            interfaces[port] = draw(vlan_ports(port, vlan_names, acl_names))
        spare = [p for p in range(49, 53) if draw(st.booleans())]
        for port in spare:  # mirror ports, watching VLAN ports
            interfaces[port] = {
                'mirror': draw(
                    st.lists(st.sampled_from(ports), min_size=1, max_size=3, unique=True)
                )
            }
            if draw(st.booleans()):
                interfaces[port]['output_only'] = True
        if not any(
            'native_vlan' in intf or 'tagged_vlans' in intf or intf.get('output_only')
            for intf in interfaces.values()
        ):  # as FAUCET, a switch must reference a VLAN (or have an output_only port)
            interfaces[ports[0]]['native_vlan'] = vlan_names[0]
        dps[name] = {
            'dp_id': draw(st.sampled_from([dp_id, hex(dp_id)])),  # as FAUCET
            'interfaces': interfaces,
        }
        if draw(st.booleans()):
            dps[name]['hardware'] = 'Open vSwitch'
    return {'vlans': vlans, 'acls': acls, 'dps': dps}


@st.composite
def vlan_ports(draw, port, vlan_names, acl_names):
    intf = {}
    native = draw(st.sampled_from([None] + vlan_names))
    if native:
        intf['native_vlan'] = native
    tagged = draw(st.lists(st.sampled_from(vlan_names), unique=True))
    tagged = [name for name in tagged if name != native]
    if tagged:
        intf['tagged_vlans'] = tagged
    if acl_names and draw(st.booleans()):
        intf['acls_in'] = draw(st.lists(st.sampled_from(acl_names), min_size=1, unique=True))
    for key, values in (
        ('max_hosts', st.integers(1, 500)),
        ('enabled', st.booleans()),
        ('description', st.text(max_size=8)),
        ('name', NAMES),
    ):
        if draw(st.integers(0, 3)) == 0:
            intf[key] = draw(values)
    if 'name' in intf:  # names must be unique on the switch
        intf['name'] += '-%d' % port
    return intf


@SETTINGS
@given(policies())
def test_valid_policies_load_and_round_trip(data):
    policy = load_policy_text(yaml.safe_dump(data), 'generated.yaml')
    assert sorted(policy.dps) == sorted(data['dps'])
    assert policy.rule_count == sum(len(rules) for rules in data['acls'].values())
    again = load_policy_text(yaml.safe_dump(policy.to_data()), 'round-trip.yaml')
    assert again == policy and hash(again) == hash(policy)
    assert again.to_data() == policy.to_data()


def check_failure_or_policy(text):
    try:
        result = load_policy_text(text, 'corrupt.yaml')
    except ConfigError as error:
        assert error.errors
        for issue in error.errors:
            assert issue.file == 'corrupt.yaml' and issue.message
            assert issue.line is None or issue.line >= 1
        lines = [issue.line or 0 for issue in error.errors]
        assert lines == sorted(lines)
        assert str(error)
    else:
        assert isinstance(result, Policy)


@SETTINGS
@given(policies(), st.data())
def test_corrupted_text_gives_only_policy_errors(data, draw):
    text = yaml.safe_dump(data)
    for _ in range(draw.draw(st.integers(1, 3))):
        start = draw.draw(st.integers(0, len(text)))
        end = draw.draw(st.integers(start, min(len(text), start + 12)))
        text = text[:start] + draw.draw(st.text(max_size=6)) + text[end:]
    check_failure_or_policy(text)


JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 2**70),
    st.floats(),
    st.text(max_size=8),
    st.lists(st.integers(0, 5000), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
    st.sampled_from(['0x800', '10.0.0.1/8', 'ff:ff', '4095', 'office']),
)


def paths(value, prefix=()):
    """Every path into nested dicts and lists."""
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from paths(child, prefix + (key,))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from paths(child, prefix + (index,))


@SETTINGS
@given(policies(), st.data())
def test_corrupted_values_give_only_policy_errors(data, draw):
    for _ in range(draw.draw(st.integers(1, 3))):
        path = draw.draw(st.sampled_from(list(paths(data))[1:]))
        parent = data
        for part in path[:-1]:
            parent = parent[part]
        if isinstance(parent, dict) and draw.draw(st.booleans()):
            parent[draw.draw(st.text(max_size=8))] = draw.draw(JUNK)  # a new key
        else:
            parent[path[-1]] = draw.draw(JUNK)
    check_failure_or_policy(yaml.safe_dump(data))
