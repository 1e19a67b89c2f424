"""What operators see, on real networks: GET /metrics of each app (l2_learning,
stable_routing, vswitch_policy, the arbiter with an unmodified Ryu app) moves with real
traffic, real link cuts and reloads, and the web page at /ui/ (driven in headless
Chromium) shows every switch and link, and a cut link down within 5 s."""

import importlib
import os
import shutil
import time
import urllib.error
import urllib.request

import pytest

from controller.vswitch import load_policy
from tests.harness import l2, stable
from tests.harness.controller import REPO
from tests.harness.network import host_ports, switch_links, wait_until
from tests.harness.tenants import configure_access_hosts, same_vlan_pairs
from tests.harness.traffic import reachability_matrix
from tests.unit.test_metrics import samples_of_text
from topologies.linear import LinearTopo

POLICIES = os.path.join(os.path.dirname(__file__), 'policies')


def make_topo(name, *args):
    return importlib.import_module('topologies.' + name).topos[name](*args)


def scrape(ctl):
    """{(name, sorted labels): value} of the controller's GET /metrics."""
    url = 'http://127.0.0.1:%d/metrics' % ctl.wsapi_port
    with urllib.request.urlopen(url, timeout=10) as reply:
        assert reply.headers['Content-Type'].startswith('text/plain')
        return samples_of_text(reply.read().decode())


def values(found, name, **labels):
    """{labels: value} of the samples of ``name`` that carry ``labels``."""
    return {
        key[1]: value
        for key, value in found.items()
        if key[0] == name and all((k, v) in key[1] for k, v in labels.items())
    }


def total(found, name, **labels):
    return sum(values(found, name, **labels).values())


def dp(net, switch_name):
    """The dp_id label of a Mininet switch (its dpid as FAUCET writes it)."""
    return hex(int(net.get(switch_name).dpid, 16))


def test_l2_learning_metrics_move_with_traffic(controller, network):
    ctl = controller(['apps/l2_learning.py'], config={'l2_learning': {'stats_interval': 1.0}})
    net = network(make_topo('ring', 3), ctl)
    assert not l2.wait_ready(net)
    before = scrape(ctl)
    names = {key[0] for key in before}
    for name in (
        'sdn_of_packet_ins_total',
        'sdn_of_flowmsgs_sent_total',
        'sdn_of_dp_connections_total',
        'sdn_dp_status',
        'sdn_port_status',
        'sdn_loop_failures_total',
    ):
        assert name in names, name
    for switch in net.switches:
        labels = {'dp_id': dp(net, switch.name)}
        assert total(before, 'sdn_dp_status', **labels) == 1
        assert total(before, 'sdn_of_dp_connections_total', **labels) == 1
        # Every port of the switch is there, and live (not the LOCAL port).
        ports = values(before, 'sdn_port_status', **labels)
        assert sorted(int(dict(k)['port']) for k in ports) == sorted(
            switch.ports[intf] for intf in switch.intfList() if intf.name != 'lo'
        )
        assert all(v == 1 for v in ports.values()), ports
    assert total(before, 'sdn_of_flowmsgs_sent_total') > 0

    reach = reachability_matrix(net.hosts)
    assert reach.loss_percent == 0, reach.table()
    after = scrape(ctl)
    assert total(after, 'sdn_of_packet_ins_total') > total(before, 'sdn_of_packet_ins_total')
    assert total(after, 'sdn_of_flowmsgs_sent_total') > total(before, 'sdn_of_flowmsgs_sent_total')
    # Each host is learned on its own switch's host port, and nowhere else on a host port.
    attached = host_ports(net)
    for host, (switch, port) in attached.items():
        assert (
            total(after, 'sdn_port_vlan_hosts_learned', dp_id=dp(net, switch), port=str(port)) == 1
        ), host
    host_port_keys = {(dp(net, s), str(p)) for s, p in attached.values()}
    on_host_ports = sum(
        value
        for labels, value in values(after, 'sdn_port_vlan_hosts_learned').items()
        if (dict(labels)['dp_id'], dict(labels)['port']) in host_port_keys
    )
    assert on_host_ports == len(net.hosts)
    # Every switch learned every host pinged (over its tree ports for the others).
    for switch in net.switches:
        assert total(after, 'sdn_vlan_hosts_learned', dp_id=dp(net, switch.name)) == len(net.hosts)

    # The statistics poller (stats_interval 1 s): port counters move with traffic.
    h1, h2 = net.get('h1', 'h2')
    switch, port = attached['h1']
    labels = {'dp_id': dp(net, switch), 'port': str(port)}
    rx_before = total(scrape(ctl), 'sdn_of_port_rx_packets', **labels)
    h1.cmd('ping -c 20 -i 0.05 %s' % h2.IP())
    assert wait_until(
        lambda: total(scrape(ctl), 'sdn_of_port_rx_packets', **labels) >= rx_before + 20, 5
    ), (rx_before, values(scrape(ctl), 'sdn_of_port_rx_packets', **labels))
    flows = values(scrape(ctl), 'sdn_flow_packet_count', dp_id=dp(net, switch))
    assert flows and sum(flows.values()) > 0


def test_stable_routing_epoch_metrics_after_a_link_cut(controller, network):
    ctl = controller(['apps/stable_routing.py'])
    net = network(make_topo('ring', 4), ctl)
    reachability_matrix(net.hosts)
    status = stable.wait_for_epoch(ctl, net)
    assert status['epoch'], status
    # An epoch is counted once its old rules are retired too (after the drain time).
    assert wait_until(
        lambda: total(scrape(ctl), 'sdn_stable_epochs_total', state='installed') >= 1, 10
    ), scrape(ctl)
    before = scrape(ctl)
    installed = total(before, 'sdn_stable_epochs_total', state='installed')
    assert (
        total(
            before,
            'sdn_stable_epoch',
        )
        == status['epoch']
    )
    assert total(before, 'sdn_stable_epoch_seconds_count', step='compute') >= installed
    assert total(before, 'sdn_stable_hosts') == len(net.hosts)

    (a, _), (b, _) = switch_links(net)[0]
    net.configLinkStatus(a, b, 'down')
    assert wait_until(
        lambda: (
            ctl.rest('/stable/epoch')['epoch'] > status['epoch']
            and total(scrape(ctl), 'sdn_stable_epochs_total', state='installed') > installed
        ),
        20,
    ), ctl.log_tail()
    after = scrape(ctl)
    # The cut link's ports carried next hops of the epoch in force: they failed over or
    # were lost until the new epoch.
    moved = total(after, 'sdn_stable_failovers_total') + total(
        after, 'sdn_stable_unprotected_next_hops_lost_total'
    )
    assert moved > 0
    assert total(after, 'sdn_port_status', dp_id=dp(net, a)) < total(
        before, 'sdn_port_status', dp_id=dp(net, a)
    )
    reach = reachability_matrix(net.hosts)
    assert reach.loss_percent == 0, reach.table()


# --- the web view, in headless Chromium ----------------------------------------------

# Debian's packages, then Ubuntu's snap
CHROMIUM_CANDIDATES = ('/usr/bin/chromium', '/snap/bin/chromium')
CHROMEDRIVER_CANDIDATES = ('/usr/bin/chromedriver', '/snap/bin/chromium.chromedriver')
ARTEFACTS = os.path.join(REPO, 'test-artifacts')
LINK_DOWN_SHOWN_WITHIN_S = 5.0


@pytest.fixture
def browser(tmp_path):
    """Headless Chromium driven by Selenium (Debian's chromium and chromedriver, or
    Ubuntu's snap)."""
    chromium, chromedriver = (
        next((path for path in candidates if os.path.exists(path)), None)
        for candidates in (CHROMIUM_CANDIDATES, CHROMEDRIVER_CANDIDATES)
    )
    if chromium is None or chromedriver is None:
        pytest.fail(
            'the web view test needs Chromium and its driver: found neither of %s '
            '(Debian: apt-get install chromium chromium-driver; Ubuntu: chromium-browser '
            'chromium-chromedriver, a snap; scripts/setup.sh installs them)'
            % ', '.join(CHROMIUM_CANDIDATES if chromium is None else CHROMEDRIVER_CANDIDATES),
            pytrace=False,
        )
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.fail('the web view test needs Selenium: pip install selenium', pytrace=False)
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--no-first-run',
        '--window-size=1400,900',
        '--user-data-dir=%s' % (tmp_path / 'chromium'),
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(chromedriver), options=options)
    yield driver
    driver.quit()


def screenshot(driver, name):
    os.makedirs(ARTEFACTS, exist_ok=True)
    path = os.path.join(ARTEFACTS, name + '.png')
    driver.save_screenshot(path)
    return path


def page_state(driver):
    """What the page shows: {switch dpid: state}, {link id: state}, and what the graph
    (cytoscape) holds, read from the browser."""
    return driver.execute_script(
        """
        const attr = (selector, key) => Object.fromEntries(
          [...document.querySelectorAll(selector)].map(
            (e) => [e.getAttribute(key), e.getAttribute('data-state')]));
        const graph = window.sdnGraph;
        return {
          status: document.getElementById('status').getAttribute('data-state'),
          switches: attr('#switches li', 'data-dpid'),
          links: attr('#links tbody tr', 'data-link'),
          graph_switches: graph.nodes('[kind="switch"]').map((n) => n.id()),
          graph_links: Object.fromEntries(
            graph.edges('[kind="link"]').map((e) => [e.id(), e.data('state')])),
          tree_links: graph.edges('[role="tree"]').length,
        };
        """
    )


def link_id(net, a, pa, b, pb):
    ends = sorted(
        [('%016x' % int(net.get(a).dpid, 16), pa), ('%016x' % int(net.get(b).dpid, 16), pb)]
    )
    return '%s:%d-%s:%d' % (ends[0] + ends[1])


def test_the_web_view_shows_the_network_and_a_cut_link_within_5s(controller, network, browser):
    ctl = controller(['apps/l2_learning.py'])
    net = network(make_topo('ring', 4), ctl)
    assert not l2.wait_ready(net)
    reach = reachability_matrix(net.hosts)
    assert reach.loss_percent == 0, reach.table()
    cables = [(a, pa, b, pb) for (a, pa), (b, pb) in switch_links(net)]
    expected_links = {link_id(net, *c) for c in cables}
    expected_switches = {'%016x' % int(s.dpid, 16) for s in net.switches}

    browser.get('http://127.0.0.1:%d/ui/' % ctl.wsapi_port)
    shown = wait_until(
        lambda: (
            lambda s: (
                s['status'] == 'ok'
                and set(s['switches']) == expected_switches
                and set(s['links']) == expected_links
                and all(state == 'up' for state in s['links'].values())
                and s
            )
        )(page_state(browser)),
        15,
    )
    screenshot(browser, 'ui_ring4_up')
    assert shown, page_state(browser)
    assert set(shown['graph_switches']) == {'sw-' + dpid for dpid in expected_switches}
    assert set(shown['graph_links']) == {'link-' + link for link in expected_links}
    # A ring of 4: the spanning tree is 3 of its 4 links.
    assert shown['tree_links'] == 3
    hosts_shown = browser.execute_script(
        "return [...document.querySelectorAll('#hosts tbody tr')].map((r) => r.dataset.mac)"
    )
    assert sorted(hosts_shown) == sorted(h.MAC() for h in net.hosts)

    a, pa, b, pb = cables[0]
    cut = link_id(net, a, pa, b, pb)
    net.configLinkStatus(a, b, 'down')
    cut_at = time.monotonic()
    down = wait_until(
        lambda: (
            lambda s: (
                s['links'].get(cut) == 'down'
                and s['graph_links'].get('link-' + cut) == 'down'
                and s
            )
        )(page_state(browser)),
        LINK_DOWN_SHOWN_WITHIN_S,
        interval=0.1,
    )
    shown_after = time.monotonic() - cut_at
    screenshot(browser, 'ui_ring4_link_cut')
    print('the cut link %s was shown down after %.2f s' % (cut, shown_after))
    assert down, 'not shown down within %.0f s: %s' % (
        LINK_DOWN_SHOWN_WITHIN_S,
        page_state(browser),
    )
    # The other links stay up.
    assert all(state == 'up' for link, state in down['links'].items() if link != cut), down


def test_the_web_view_shows_epochs_and_the_sft_of_stable_routing(controller, network, browser):
    ctl = controller(['apps/stable_routing.py'])
    net = network(make_topo('ring', 4), ctl)
    reachability_matrix(net.hosts)
    status = stable.wait_for_epoch(ctl, net)
    assert status['epoch'], status
    browser.get('http://127.0.0.1:%d/ui/' % ctl.wsapi_port)

    def shown():
        return browser.execute_script(
            """
            return {
              epochs: [...document.querySelectorAll('#epochs tbody tr')].map(
                (r) => [Number(r.dataset.epoch), r.dataset.state]),
              panel_hidden: document.getElementById('epochs-panel').hidden,
              sft_links: window.sdnGraph.edges('[role="sft"]').length,
              hosts: document.querySelectorAll('#hosts tbody tr').length,
            };
            """
        )

    seen = wait_until(
        lambda: (
            lambda s: (
                not s['panel_hidden']
                and [status['epoch'], 'installed'] in s['epochs']
                and s['sft_links'] > 0
                and s['hosts'] == len(net.hosts)
                and s
            )
        )(shown()),
        15,
    )
    screenshot(browser, 'ui_stable_ring4')
    assert seen, shown()
    # Every epoch of the history is listed, newest first.
    history = ctl.rest('/stable/history?limit=20')
    assert [number for number, _ in seen['epochs']] == [e['number'] for e in reversed(history)]


def test_vswitch_policy_metrics_and_reloads(controller, network, tmp_path):
    policy = tmp_path / 'policy.yaml'
    shutil.copy(os.path.join(POLICIES, 'three_tenants.yaml'), policy)
    original = policy.read_text()
    ctl = controller(
        ['apps/vswitch_policy.py'],
        config={'vswitch_policy': {'policy_file': str(policy), 'reload_poll': 3600}},
    )
    net = network(LinearTopo(n=3, hosts_per_switch=4), ctl)
    assert wait_until(lambda: len(ctl.log_lines('connected:')) == 3, 20), ctl.log_tail()
    before = scrape(ctl)
    endpoints = configure_access_hosts(net, load_policy(str(policy)))
    for name in ('s1', 's2', 's3'):  # named as in the policy
        assert total(before, 'sdn_dp_status', dp_name=name) == 1
    reach = reachability_matrix(endpoints, timeout=0.5)
    assert not reach.expect(same_vlan_pairs(endpoints)), reach.table()
    after = scrape(ctl)
    # The hosts were learned from the frames they send when they come up (a packet-in
    # each, at least), and every access host pinged is on its own port, in its VLAN.
    assert total(after, 'sdn_of_packet_ins_total') >= len(endpoints)
    attached = host_ports(net)
    for endpoint in endpoints:
        vid = endpoint.name.split('(')[1].rstrip(')')
        switch, port = attached[endpoint.host.name]
        learned = total(
            after, 'sdn_port_vlan_hosts_learned', dp_name=switch, port=str(port), vlan=vid
        )
        assert learned == 1, endpoint.name
    app = {'app': 'vswitch_policy'}
    start_hash = ctl.rest('/vswitch/policy')['hash']
    assert total(after, 'sdn_config_hash_info', hash=start_hash, **app) == 1

    def post_reload():
        request = urllib.request.Request(
            'http://127.0.0.1:%d/vswitch/reload' % ctl.wsapi_port, method='POST', data=b''
        )
        try:
            with urllib.request.urlopen(request, timeout=20) as reply:
                return reply.status
        except urllib.error.HTTPError as error:
            return error.code

    policy.write_text('vlans: [\n')
    assert post_reload() == 422
    refused = scrape(ctl)
    assert total(refused, 'sdn_config_load_error', **app) == 1
    assert total(refused, 'sdn_config_reload_refused_total', **app) == 1
    assert ctl.rest('/vswitch/reload')['last']['errors']
    policy.write_text(
        original.replace(
            '2: {native_vlan: green, description: "h2"}', '2: {native_vlan: red, description: "h2"}'
        )
    )
    assert post_reload() == 200
    applied = scrape(ctl)
    assert total(applied, 'sdn_config_load_error', **app) == 0
    assert total(applied, 'sdn_config_reload_applied_total', **app) == 1
    assert total(applied, 'sdn_config_reload_requests_total', **app) == 2
    assert total(applied, 'sdn_config_hash_info', hash=start_hash, **app) == 0


def test_arbiter_metrics_with_an_unmodified_ryu_app(controller, network):
    ctl = controller(['apps/arbiter.py', 'ryu.app.simple_switch_13'])
    net = network(make_topo('linear', 3), ctl)
    reach = reachability_matrix(net.hosts)
    assert reach.loss_percent == 0, reach.table()
    found = scrape(ctl)
    app = {'app': 'simple_switch_13'}
    assert total(found, 'sdn_arbiter_decisions_total', outcome='install', **app) > 0
    assert total(found, 'sdn_arbiter_rules', **app) > 0
    assert 'sdn_arbiter_damped_regions' in {key[0] for key in found}
    # No app of ours in the process: the OpenFlow counters count all the same, and the
    # arbiter's own writes are counted.
    for switch in net.switches:
        labels = {'dp_id': dp(net, switch.name)}
        assert total(found, 'sdn_of_packet_ins_total', **labels) > 0
        assert total(found, 'sdn_of_flowmsgs_sent_total', **labels) > 0
        assert total(found, 'sdn_dp_status', **labels) == 1
    topology = ctl.rest('/ui/api/topology')
    assert topology['apps'] == ['arbiter'] and len(topology['switches']) == 3
