// The network view: polls the controller's JSON endpoints and draws what they say.
// Everything taken from the network is written as text (never as HTML).
'use strict';

const POLL_MS = 1000;
const ROLE_COLOURS = { tree: '#2e7d32', sft: '#1565c0' };
const VLAN_COLOURS = ['#8e24aa', '#ef6c00', '#00838f', '#6d4c41', '#c0ca33', '#d81b60'];

const cy = cytoscape({
  container: document.getElementById('graph'),
  layout: { name: 'grid' },
  style: [
    { selector: 'node[kind="switch"]', style: {
      'shape': 'round-rectangle', 'background-color': '#546e7a', 'label': 'data(label)',
      'color': '#fff', 'text-valign': 'center', 'width': 'label', 'height': 24,
      'padding': '6px', 'font-size': 11 } },
    { selector: 'node[kind="switch"][state="down"]', style: { 'background-color': '#c62828' } },
    { selector: 'node[kind="host"]', style: {
      'shape': 'ellipse', 'background-color': 'data(colour)', 'label': 'data(label)',
      'width': 14, 'height': 14, 'font-size': 9 } },
    { selector: 'edge', style: { 'width': 2, 'line-color': '#90a4ae', 'curve-style': 'bezier' } },
    { selector: 'edge[kind="host"]', style: { 'width': 1, 'line-color': '#cfd8dc' } },
    { selector: 'edge[role="tree"]', style: { 'width': 5, 'line-color': ROLE_COLOURS.tree } },
    { selector: 'edge[role="sft"]', style: { 'width': 5, 'line-color': ROLE_COLOURS.sft } },
    { selector: 'edge[state="down"]', style: {
      'width': 3, 'line-color': '#c62828', 'line-style': 'dashed' } },
  ],
});
window.sdnGraph = cy;  // for the browser test and the curious

async function getJson(url) {
  const reply = await fetch(url, { cache: 'no-store' });
  if (!reply.ok) throw new Error(url + ' answered ' + reply.status);
  return reply.json();
}

function cell(row, text) {
  const td = document.createElement('td');
  td.textContent = text === null || text === undefined ? '' : String(text);
  row.appendChild(td);
}

function fillTable(id, rows, cellsOf, attributesOf) {
  const body = document.querySelector('#' + id + ' tbody');
  const fresh = document.createElement('tbody');
  for (const item of rows) {
    const row = document.createElement('tr');
    for (const text of cellsOf(item)) cell(row, text);
    const attributes = attributesOf ? attributesOf(item) : {};
    for (const [name, value] of Object.entries(attributes)) row.setAttribute(name, value);
    fresh.appendChild(row);
  }
  body.replaceWith(fresh);
}

function vlanColour(vlan) {
  return vlan === undefined || vlan === null || vlan === '' ? '#455a64'
    : VLAN_COLOURS[Number(vlan) % VLAN_COLOURS.length];
}

// A switch's name in the policy, else its dpid without the leading zeros.
function switchLabel(sw) {
  return sw.name === sw.id ? 'dpid ' + (sw.id.replace(/^0+/, '') || '0') : sw.name;
}

function upsert(element, wanted) {
  wanted.add(element.data.id);
  const found = cy.getElementById(element.data.id);
  if (found.nonempty()) {
    found.data(element.data);
    return false;
  }
  cy.add(element);
  return true;
}

function drawGraph(topology) {
  const wanted = new Set();
  let added = false;
  cy.batch(() => {
    for (const sw of topology.switches) {
      added = upsert({ group: 'nodes', data: {
        id: 'sw-' + sw.id, kind: 'switch', label: switchLabel(sw),
        state: sw.connected ? 'up' : 'down' } },
      wanted) || added;
    }
    for (const link of topology.links) {
      if (!wanted.has('sw-' + link.src) || !wanted.has('sw-' + link.dst)) continue;
      added = upsert({ group: 'edges', data: {
        id: 'link-' + link.id, source: 'sw-' + link.src, target: 'sw-' + link.dst,
        kind: 'link', state: link.state, role: link.roles[0] || '' } }, wanted) || added;
    }
    for (const host of topology.hosts) {
      if (!wanted.has('sw-' + host.switch)) continue;
      const id = 'host-' + host.mac + '-' + (host.vlan || '');
      added = upsert({ group: 'nodes', data: {
        id, kind: 'host', label: host.mac, colour: vlanColour(host.vlan) } }, wanted) || added;
      added = upsert({ group: 'edges', data: {
        id: 'edge-' + id, source: id, target: 'sw-' + host.switch, kind: 'host' } },
      wanted) || added;
    }
    cy.elements().filter((element) => !wanted.has(element.id())).remove();
  });
  if (added) cy.layout({ name: 'cose', animate: false, randomize: false }).run();
}

function drawLists(topology) {
  const list = document.getElementById('switches');
  const fresh = document.createElement('ul');
  fresh.id = 'switches';
  for (const sw of topology.switches) {
    const item = document.createElement('li');
    item.textContent = sw.name === sw.id ? sw.id : sw.name + ' (' + sw.id + ')';
    item.setAttribute('data-dpid', sw.id);
    item.setAttribute('data-state', sw.connected ? 'up' : 'down');
    fresh.appendChild(item);
  }
  list.replaceWith(fresh);
  fillTable('links', topology.links,
    (l) => [l.src + ':' + l.src_port, l.dst + ':' + l.dst_port, l.state, l.roles.join(', ')],
    (l) => ({ 'data-link': l.id, 'data-state': l.state }));
  fillTable('hosts', topology.hosts,
    (h) => [h.mac, h.switch, h.port, h.vlan], (h) => ({ 'data-mac': h.mac }));
}

async function drawPanels(apps) {
  const stable = apps.includes('stable_routing');
  const arbiter = apps.includes('arbiter');
  const vswitch = apps.includes('vswitch_policy');
  document.getElementById('epochs-panel').hidden = !stable;
  document.getElementById('arbiter-panel').hidden = !arbiter;
  document.getElementById('vlans-panel').hidden = !vswitch;
  if (stable) {
    const history = await getJson('/stable/history?limit=20');
    fillTable('epochs', history.slice().reverse(), (e) => [
      e.number, e.state, e.trigger_count, e.switches, e.links, e.hosts,
      e.compute_ms.toFixed(1), e.check_ms.toFixed(1), e.install_ms.toFixed(1)],
    (e) => ({ 'data-epoch': e.number, 'data-state': e.state }));
  }
  if (arbiter) {
    const [conflicts, damped] = await Promise.all(
      [getJson('/arbiter/conflicts'), getJson('/arbiter/damped')]);
    fillTable('conflicts', conflicts, (c) => [
      c.state, c.app, c.dpid, c.table, c.priority, c.match, c.clause || (c.owners || []).join(', ')]);
    fillTable('damped', damped, (d) => [
      d.dpid, d.table, d.match, d.apps.join(', '), d.flaps, d.kept, d.damped_for_s]);
  }
  if (vswitch) {
    const vlans = await getJson('/vswitch/hosts');
    fillTable('vlans', Object.entries(vlans), ([vid, vlan]) => [
      vid, vlan.name, vlan.hosts.map((h) => h.mac + ' @ ' + h.dp_name + ':' + h.port).join('; ')],
    ([vid]) => ({ 'data-vid': vid }));
  }
}

async function poll() {
  const status = document.getElementById('status');
  try {
    const topology = await getJson('/ui/api/topology');
    document.getElementById('apps').textContent = 'apps: ' + topology.apps.join(', ');
    drawGraph(topology);
    drawLists(topology);
    await drawPanels(topology.apps);
    status.textContent = 'updated ' + new Date().toLocaleTimeString();
    status.setAttribute('data-state', 'ok');
  } catch (error) {
    status.textContent = 'controller unreachable: ' + error.message;
    status.setAttribute('data-state', 'error');
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

poll();
