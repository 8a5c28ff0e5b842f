/* The page netdep serve answers at /: the dependency graph with the live
 * health of its links, and the live tables. Everything it shows comes from
 * the server's API (docs/serve.md, docs/connectivity.md); docs/web.md. */
'use strict';

(function () {
  const $ = (id) => document.getElementById(id);

  const REFRESH_MS = 5000;   /* the live health and tables */
  const GRAPH_REFRESH_MS = 60000;
  const MAX_NODES = 200;     /* past this, roles start closed: "+N" */
  const HEALTH_SQL = 'SELECT src, dst, port, kind, dst_host, state FROM links';
  const HOSTS_SQL = 'SELECT name, service, role, addrs, state FROM hosts';
  /* docs/connectivity.md, "The source design's three questions", as written there. */
  const SAVED_VIEWS = [
    'SELECT name, disconnects FROM hosts ORDER BY disconnects DESC, name',
    'SELECT dc, sum(nginx_request_rate) AS requests, sum(nginx_error_rate) AS errors FROM hosts GROUP BY dc ORDER BY dc',
    "SELECT name, load, nginx_error_rate FROM hosts WHERE role = 'web' ORDER BY name",
  ];
  const TABLE_SQL = { hosts: 'SELECT * FROM hosts ORDER BY name', links: 'SELECT src, dst, port, kind, dst_host, state, loss, rtt_p50, rtt_p99, history FROM links ORDER BY src, dst, port, kind' };
  /* Worst first: an edge takes the worst state of the probes along it. */
  const HEALTH_RANK = { down: 5, refused: 5, loss: 4, stale: 3, ok: 2, none: 1 };
  const COLOURS = { ok: '#2e9d4f', loss: '#e0a100', down: '#d33a2c', refused: '#d33a2c', stale: '#9a9a9a', none: '#5b6b7f' };

  const model = {
    hosts: new Map(),      /* key -> {key, name, addr, role} */
    edges: new Map(),      /* "a>b" -> {src, dst, ports:Set, connections, opened, failed, current} */
    links: [],             /* rows of HEALTH_SQL */
    roleOfHost: new Map(), /* hostname -> "service:role" */
    rules: [],             /* the stored role rules, for hosts the live state lacks */
    hostOfAddr: new Map(), /* address -> hostname */
    diff: null,            /* Map "a>b" -> "appeared" | "vanished" */
    opened: new Map(),     /* role -> true/false, as the user set it */
    impact: null,          /* {target: key, dependents: Map key -> item} */
    search: '',
  };
  let cy = null;
  let shownSignature = '';
  let layoutSeq = 0;
  let worker = null;
  let view = 'graph';
  let tableSource = { kind: 'saved', key: 0 };
  let tableData = null;
  let tableSort = { column: -1, ascending: true };

  /* ---- the API ---- */

  class NeedLogin extends Error {}

  async function getJSON(path) {
    const res = await fetch(path, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
    const text = await res.text();
    if (res.status === 401) {
      showLogin(false);
      throw new NeedLogin('sign in');
    }
    if (!res.ok) throw new Error(path.split('?')[0] + ': ' + res.status + ' ' + text.trim());
    return JSON.parse(text);
  }

  async function getText(path) {
    const res = await fetch(path, { credentials: 'same-origin' });
    const text = await res.text();
    if (res.status === 401) {
      showLogin(false);
      throw new NeedLogin('sign in');
    }
    if (!res.ok) throw new Error(path.split('?')[0] + ': ' + res.status + ' ' + text.trim());
    return text;
  }

  function query(sql) {
    return getJSON('/api/v1/query?sql=' + encodeURIComponent(sql));
  }

  function params(obj) {
    return Object.entries(obj).filter(([, v]) => v !== '' && v != null)
      .map(([k, v]) => encodeURIComponent(k) + '=' + encodeURIComponent(v)).join('&');
  }

  function setStatus(text, isError) {
    const s = $('status');
    s.textContent = text;
    s.classList.toggle('error', !!isError);
  }

  function failed(err) {
    if (err instanceof NeedLogin) return;
    setStatus(String(err.message || err), true);
  }

  /* ---- who is asking ---- */

  function showLogin(refused) {
    $('login').hidden = false;
    $('tabs').hidden = true;
    $('graph-view').hidden = true;
    $('table-view').hidden = true;
    $('login-error').hidden = !refused;
    $('token').focus();
  }

  /* ---- the model: the stored graph, roles, live health ---- */

  function hostKey(nameOrAddr) {
    const name = model.hostOfAddr.get(nameOrAddr) || nameOrAddr;
    return 'h:' + name;
  }

  function roleOf(host) {
    if (model.roleOfHost.has(host.name)) return model.roleOfHost.get(host.name);
    const rule = model.rules.find((r) => r.matches(host));
    return rule ? rule.role : null;
  }

  /* ---- the stored role rules, for hosts the live state does not name
   * (agents writing to a store, not through serve): `roles list`'s lines,
   * MATCH SERVICE:ROLE [dc=..] [name=..], first match wins ---- */

  function ipv4(text) {
    const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
    if (!m) return null;
    const parts = m.slice(1).map(Number);
    if (parts.some((p) => p > 255)) return null;
    return parts.reduce((v, p) => v * 256n + BigInt(p), 0n);
  }

  function ipv6(text) {
    if (!text.includes(':')) return null;
    const halves = text.split('::');
    if (halves.length > 2) return null;
    const words = (h) => (h === '' ? [] : h.split(':'));
    const head = words(halves[0]), tail = halves.length === 2 ? words(halves[1]) : [];
    const fill = 8 - head.length - tail.length;
    if (fill < 0 || (halves.length === 1 && fill !== 0)) return null;
    const all = [...head, ...Array(fill).fill('0'), ...tail];
    if (all.some((w) => !/^[0-9a-fA-F]{1,4}$/.test(w))) return null;
    return all.reduce((v, w) => v * 65536n + BigInt(parseInt(w, 16)), 0n);
  }

  function addrValue(text) {
    const v4 = ipv4(text);
    if (v4 !== null) return { bits: 32, value: v4 };
    const v6 = ipv6(text);
    return v6 !== null ? { bits: 128, value: v6 } : null;
  }

  function makeRule(match, role) {
    const slash = match.indexOf('/');
    const net = addrValue(slash < 0 ? match : match.slice(0, slash));
    if (net) {
      const prefix = slash < 0 ? net.bits : Number(match.slice(slash + 1));
      const shift = BigInt(net.bits - prefix);
      const inBlock = (addr) => {
        const a = addrValue(addr);
        return !!a && a.bits === net.bits && (a.value >> shift) === (net.value >> shift);
      };
      return { role, matches: (host) => host.addrs.some(inBlock) };
    }
    const glob = new RegExp('^' + match.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$', 'i');
    return { role, matches: (host) => glob.test(host.name) };
  }

  function parseRules(text) {
    const rules = [];
    for (const line of text.split('\n')) {
      const [match, role] = line.trim().split(/\s+/);
      if (match && role && role.includes(':')) rules.push(makeRule(match, role));
    }
    return rules;
  }

  async function loadGraph() {
    const graphParams = { format: 'json', 'group-by': 'host', since: $('since').value.trim(), until: $('until').value.trim() };
    const [graph, liveHosts, storeHosts, rules] = await Promise.all([
      getJSON('/api/v1/graph?' + params(graphParams)),
      query(HOSTS_SQL),
      getJSON('/api/v1/hosts?format=json'),
      getText('/api/v1/roles'),
    ]);
    /* The live state names each reporting host's role; for the others
     * (not reporting, or agents writing to a store), the stored rules do. */
    model.rules = parseRules(rules);
    model.roleOfHost.clear();
    model.hostOfAddr.clear();
    for (const h of storeHosts) if (h.hostname) model.hostOfAddr.set(h.addr, h.hostname);
    for (const row of liveHosts.rows) {
      const [name, service, role, addrs] = row;
      if (service && role) model.roleOfHost.set(name, service + ':' + role);
      for (const a of String(addrs || '').split(/[ ,]+/)) if (a && !model.hostOfAddr.has(a)) model.hostOfAddr.set(a, name);
    }
    model.hosts.clear();
    model.edges.clear();
    const keyOfNode = [];
    for (const n of graph.nodes) {
      const name = n.name || model.hostOfAddr.get(n.label) || n.label;
      const key = 'h:' + name;
      keyOfNode[n.id] = key;
      const known = model.hosts.get(key);
      if (known) {
        if (!known.addrs.includes(n.label)) known.addrs.push(n.label);
      } else {
        model.hosts.set(key, { key, name, addrs: [n.label], addr: n.label, role: null });
      }
    }
    for (const h of model.hosts.values()) h.role = roleOf(h);
    for (const e of graph.edges) {
      const src = keyOfNode[e.client], dst = keyOfNode[e.server];
      if (!src || !dst) continue;
      const id = src + '>' + dst;
      let m = model.edges.get(id);
      if (!m) {
        m = { id, src, dst, ports: new Set(), connections: 0, opened: 0, failed: 0, current: false };
        model.edges.set(id, m);
      }
      for (const p of e.ports || []) m.ports.add(p);
      m.connections += e.connections || 0;
      m.opened += e.opened || 0;
      m.failed += e.failed || 0;
      m.current = m.current || !!e.current;
    }
    model.diff = $('diff-mode').checked ? await loadDiff() : null;
  }

  async function loadDiff() {
    const target = $('diff-target').value.trim() || (model.impact ? model.hosts.get(model.impact.target).name : '');
    if (!target) {
      setStatus('diff: name a host or role (or click one first)', true);
      return null;
    }
    const isRole = target.includes(':');
    const d = await getJSON('/api/v1/diff?' + params({ [isRole ? 'role' : 'host']: target, before: $('diff-before').value.trim(), after: $('diff-after').value.trim(), json: 'true' }));
    const marks = new Map();
    const mark = (list, what) => {
      for (const e of list || []) {
        const src = hostKey(e.client.name || e.client.label), dst = hostKey(e.server.name || e.server.label);
        const id = src + '>' + dst;
        marks.set(id, what);
        for (const [key, side] of [[src, e.client], [dst, e.server]]) {
          if (!model.hosts.has(key)) {
            const name = key.slice(2);
            model.hosts.set(key, { key, name, addrs: [side.label], addr: side.label, role: model.roleOfHost.get(name) || null });
          }
        }
        if (!model.edges.has(id)) {
          model.edges.set(id, { id, src, dst, ports: new Set(e.server.port ? [e.server.port] : []), connections: e.connections || 0, opened: 0, failed: 0, current: what === 'appeared' });
        }
      }
    };
    mark(d.vanished, 'vanished');
    mark(d.appeared, 'appeared');
    return marks;
  }

  async function loadHealth() {
    const res = await query(HEALTH_SQL);
    model.links = res.rows.map(([src, dst, port, kind, dstHost, state]) => ({ src, dst, port, kind, dstHost, state }));
  }

  /* The worst state of the probes from src's host to dst's, or "none". */
  function healthOf(edge) {
    const src = model.hosts.get(edge.src), dst = model.hosts.get(edge.dst);
    let worst = 'none';
    for (const l of model.links) {
      if (l.src !== src.name) continue;
      if (l.dstHost !== dst.name && !dst.addrs.includes(l.dst)) continue;
      const state = HEALTH_RANK[l.state] ? l.state : 'stale';
      if (HEALTH_RANK[state] > HEALTH_RANK[worst]) worst = state;
    }
    return worst;
  }

  /* ---- what is drawn: filters, roles open or closed ---- */

  function peersOf() {
    const peers = new Map();
    for (const e of model.edges.values()) {
      if (!peers.has(e.src)) peers.set(e.src, new Set());
      if (!peers.has(e.dst)) peers.set(e.dst, new Set());
      peers.get(e.src).add(e.dst);
      peers.get(e.dst).add(e.src);
    }
    return peers;
  }

  function matches(host) {
    const q = model.search;
    if (!q) return false;
    return host.name.toLowerCase().includes(q) || host.addrs.some((a) => a.includes(q)) ||
      (host.role || '').toLowerCase().includes(q);
  }

  function visibleScene() {
    const health = new Map();
    for (const e of model.edges.values()) health.set(e.id, healthOf(e));
    let hosts = [...model.hosts.values()];
    let edges = [...model.edges.values()];
    if ($('hide-hubs').checked) {
      const limit = Number($('hub-limit').value) || 20;
      const peers = peersOf();
      const hubs = new Set(hosts.filter((h) => (peers.get(h.key) || new Set()).size > limit).map((h) => h.key));
      hosts = hosts.filter((h) => !hubs.has(h.key));
      edges = edges.filter((e) => !hubs.has(e.src) && !hubs.has(e.dst));
    }
    if ($('only-problems').checked) {
      edges = edges.filter((e) => HEALTH_RANK[health.get(e.id)] >= HEALTH_RANK.stale || (model.diff && model.diff.has(e.id)));
      const touched = new Set(edges.flatMap((e) => [e.src, e.dst]));
      hosts = hosts.filter((h) => touched.has(h.key));
    }
    const keep = new Set(hosts.map((h) => h.key));
    edges = edges.filter((e) => keep.has(e.src) && keep.has(e.dst));

    const byRole = new Map();
    for (const h of hosts) {
      if (!h.role) continue;
      if (!byRole.has(h.role)) byRole.set(h.role, []);
      byRole.get(h.role).push(h);
    }
    const crowded = hosts.length > MAX_NODES;
    const open = (role) => {
      if (model.opened.has(role)) return model.opened.get(role);
      if (model.search && byRole.get(role).some(matches)) return true;
      return !crowded;
    };
    const shownAs = new Map(); /* host key -> the node it is drawn in */
    for (const h of hosts) shownAs.set(h.key, h.role && !open(h.role) ? 'r:' + h.role : h.key);
    return { hosts, edges, health, byRole, open, shownAs };
  }

  function edgeLabel(e) {
    const parts = [e.connections + (e.connections === 1 ? ' conn' : ' conns')];
    if (e.opened) parts.push('opened ' + e.opened);
    if (e.failed) parts.push('failed ' + e.failed);
    return parts.join(', ');
  }

  function buildElements(scene) {
    const nodes = [], edges = new Map();
    for (const [role, members] of scene.byRole) {
      if (scene.open(role)) {
        nodes.push({ group: 'nodes', data: { id: 'r:' + role, label: role, kind: 'role', role, w: 60 }, classes: 'role-open' });
      } else {
        nodes.push({ group: 'nodes', data: { id: 'r:' + role, label: role + ' +' + members.length, kind: 'role', role, members: members.length, w: 12 + 7 * (role.length + 4) }, classes: 'role-closed' });
      }
    }
    for (const h of scene.hosts) {
      if (scene.shownAs.get(h.key) !== h.key) continue;
      const data = { id: h.key, label: h.name === h.addr ? h.name : h.name + '\n' + h.addr, kind: 'host', name: h.name, w: 16 + 7 * Math.max(h.name.length, h.addr.length) };
      if (h.role) data.parent = 'r:' + h.role;
      nodes.push({ group: 'nodes', data });
    }
    for (const e of scene.edges) {
      const src = scene.shownAs.get(e.src), dst = scene.shownAs.get(e.dst);
      if (src === dst) continue;
      const id = src + '>' + dst;
      let m = edges.get(id);
      if (!m) {
        m = { id, source: src, target: dst, connections: 0, opened: 0, failed: 0, health: 'none', diff: null, ports: new Set(), members: [] };
        edges.set(id, m);
      }
      m.connections += e.connections;
      m.opened += e.opened;
      m.failed += e.failed;
      for (const p of e.ports) m.ports.add(p);
      m.members.push(e);
      const h = scene.health.get(e.id);
      if (HEALTH_RANK[h] > HEALTH_RANK[m.health]) m.health = h;
      const d = model.diff && model.diff.get(e.id);
      if (d && (!m.diff || d === 'appeared')) m.diff = d;
    }
    return { nodes, edges: [...edges.values()] };
  }

  /* ---- drawing ---- */

  function cyStyle() {
    const s = [
      { selector: 'node', style: { label: 'data(label)', 'font-size': 12, 'text-valign': 'center', 'text-halign': 'center', 'text-wrap': 'wrap', shape: 'round-rectangle', width: 'data(w)', height: 34, 'background-color': '#e8eef7', 'border-width': 1, 'border-color': '#7a8aa3', color: '#1d2430' } },
      { selector: ':parent', style: { 'text-valign': 'top', 'text-halign': 'center', 'font-weight': 'bold', 'background-color': '#f3f5f9', 'background-opacity': 0.7, 'border-style': 'dashed', padding: 14 } },
      { selector: 'node.role-closed', style: { 'background-color': '#dfe6f2', 'border-width': 2, 'font-weight': 'bold' } },
      { selector: 'edge', style: { 'curve-style': 'bezier', 'target-arrow-shape': 'triangle', width: 2, 'line-color': COLOURS.none, 'target-arrow-color': COLOURS.none, label: 'data(label)', 'font-size': 9, 'text-rotation': 'autorotate', 'text-background-color': '#ffffff', 'text-background-opacity': 0.85, 'text-background-padding': 2, 'arrow-scale': 0.9 } },
      { selector: 'edge.stored-old', style: { 'line-style': 'dashed' } },
      { selector: 'node.match', style: { 'border-color': '#0b63ce', 'border-width': 3 } },
      { selector: 'node.target', style: { 'background-color': '#ffd966', 'border-color': '#1d2430', 'border-width': 3 } },
      { selector: 'node.dependent', style: { 'background-color': '#f4b183', 'border-color': '#c55a11', 'border-width': 2 } },
      { selector: '.faded', style: { opacity: 0.25 } },
      { selector: 'edge.diff-appeared', style: { width: 4, 'line-style': 'dashed', 'line-color': '#0b63ce', 'target-arrow-color': '#0b63ce' } },
      { selector: 'edge.diff-vanished', style: { width: 4, 'line-style': 'dotted', 'line-color': '#d33a2c', 'target-arrow-color': '#d33a2c' } },
    ];
    for (const [state, colour] of Object.entries(COLOURS)) {
      s.splice(5, 0, { selector: 'edge.health-' + state, style: { 'line-color': colour, 'target-arrow-color': colour } });
    }
    return s;
  }

  function makeCy() {
    cy = cytoscape({ container: $('cy'), style: cyStyle(), wheelSensitivity: 0.3, boxSelectionEnabled: false, autoungrabify: false, minZoom: 0.1, maxZoom: 3 });
    cy.on('tap', (evt) => {
      if (evt.target === cy) {
        model.impact = null;
        showPanel();
        render();
      }
    });
    cy.on('tap', 'node', (evt) => {
      /* Once, for the element clicked, not again as it bubbles to its role. */
      if (evt.handled) return;
      evt.handled = true;
      select(evt.target.id()).catch(failed);
    });
    window.netdepGraph = cy; /* for the browser test and the curious, in the console */
  }

  function classesOf(el, scene) {
    const c = [];
    if (el.group === 'edges') {
      c.push('health-' + el.health);
      if (el.diff) c.push('diff-' + el.diff);
      if (el.members.every((m) => !m.current)) c.push('stored-old');
    } else {
      if (el.classes) c.push(el.classes);
    }
    return c.join(' ');
  }

  function highlightOf(id) {
    const imp = model.impact;
    if (!imp) return '';
    if (id === imp.target) return 'target';
    return imp.dependents.has(id) ? 'dependent' : 'other';
  }

  function render() {
    if (!cy) return;
    const scene = visibleScene();
    const els = buildElements(scene);
    const edgeEls = els.edges.map((e) => ({ group: 'edges', data: { id: 'e:' + e.id, source: e.source, target: e.target, label: edgeLabel(e) }, health: e.health, diff: e.diff, members: e.members, ports: e.ports, connections: e.connections }));
    const signature = els.nodes.map((n) => n.data.id + '|' + (n.data.parent || '') + '|' + n.data.label).join(',') + '#' + edgeEls.map((e) => e.data.id).join(',');
    if (signature !== shownSignature) {
      shownSignature = signature;
      cy.elements().remove();
      cy.add(els.nodes.map((n) => ({ group: 'nodes', data: n.data, classes: n.classes || '' })));
      cy.add(edgeEls.map((e) => ({ group: 'edges', data: e.data })));
      layout();
    }
    cy.batch(() => {
      for (const e of edgeEls) {
        const el = cy.getElementById(e.data.id);
        el.data('label', e.data.label);
        el.classes(classesOf({ group: 'edges', ...e }, scene));
      }
      cy.nodes().forEach((n) => {
        const h = highlightOf(n.id());
        const host = model.hosts.get(n.id());
        n.toggleClass('target', h === 'target');
        n.toggleClass('dependent', h === 'dependent');
        n.toggleClass('faded', h === 'other' && !n.isParent() || (!!model.search && !n.isParent() && !(host ? matches(host) : (n.data('role') || '').toLowerCase().includes(model.search))));
        n.toggleClass('match', !!host && matches(host));
      });
      cy.edges().forEach((e) => {
        e.toggleClass('faded', !!model.impact && !(highlightOf(e.data('source')) !== 'other' && highlightOf(e.data('target')) !== 'other'));
      });
    });
    writeText(scene, els, edgeEls);
    const bad = edgeEls.filter((e) => HEALTH_RANK[e.health] >= HEALTH_RANK.loss).length;
    setStatus(scene.hosts.length + ' hosts, ' + edgeEls.length + ' edges drawn' + (bad ? ', ' + bad + ' with problems' : '') + ' · health at ' + new Date().toLocaleTimeString());
  }

  /* The layout worker, started at once: dagre loads and compiles in it
   * while the graph's data is on its way, not after. */
  function startWorker() {
    if (worker) return;
    worker = new Worker('@ASSET(layout-worker.js)@');
    worker.onmessage = (msg) => {
      const { seq: s, positions, error } = msg.data;
      if (s !== layoutSeq) return; /* a newer layout is on its way */
      if (error) {
        setStatus('layout: ' + error, true);
        return;
      }
      cy.layout({ name: 'preset', positions: (n) => positions[n.id()] || { x: 0, y: 0 }, fit: true, padding: 24, animate: false }).run();
      /* A few hosts fill the view at no more than this: labels stay text-sized. */
      if (cy.zoom() > 1.6) {
        cy.zoom(1.6);
        cy.center();
      }
      $('cy').dataset.laidOut = String(s);
    };
  }

  function layout() {
    const seq = ++layoutSeq;
    const nodes = cy.nodes().map((n) => ({ id: n.id(), parent: n.data('parent') || null, width: n.data('w') || 60, height: 34 }));
    const edges = cy.edges().map((e) => ({ source: e.data('source'), target: e.data('target') }));
    startWorker();
    worker.postMessage({ seq, nodes, edges });
  }

  /* The text form of what is drawn: read by screen readers, the tests, and
   * searched by the browser's own find. */
  function writeText(scene, els, edgeEls) {
    const ul = $('graph-text');
    const items = [];
    const li = (attrs, text, button) => {
      const item = document.createElement('li');
      for (const [k, v] of Object.entries(attrs)) if (v != null && v !== '') item.dataset[k] = v;
      if (button) {
        const b = document.createElement('button');
        b.type = 'button';
        b.className = 'link';
        b.textContent = text;
        b.addEventListener('click', button);
        item.appendChild(b);
      } else {
        item.textContent = text;
      }
      items.push(item);
    };
    const nameOf = (id) => (id.startsWith('r:') ? id.slice(2) : model.hosts.get(id).name);
    for (const n of els.nodes) {
      const d = n.data;
      if (d.kind === 'role') {
        const members = scene.byRole.get(d.role).length;
        if (scene.open(d.role)) {
          li({ kind: 'role', role: d.role, open: 'true' }, 'role ' + d.role + ', ' + hostCount(members) + ' (open: close it)', () => toggleRole(d.role));
        } else {
          li({ kind: 'role', role: d.role, open: 'false' }, 'role ' + d.role + ', +' + hostCount(members) + ' (closed: open it)', () => toggleRole(d.role));
        }
        continue;
      }
      const h = model.hosts.get(d.id);
      li({ kind: 'node', node: h.name, addr: h.addrs.join(' '), role: h.role, highlight: highlightOf(d.id), match: matches(h) ? 'true' : '' },
        'host ' + h.name + (h.name !== h.addr ? ' ' + h.addrs.join(' ') : '') + (h.role ? ', role ' + h.role : '') +
        (highlightOf(d.id) === 'dependent' ? ', depends on the selected host' : highlightOf(d.id) === 'target' ? ', selected' : ''),
        () => select(d.id).catch(failed));
    }
    for (const e of edgeEls) {
      const ports = [...e.ports].sort((a, b) => a - b).join(',');
      li({ kind: 'edge', src: nameOf(e.data.source), dst: nameOf(e.data.target), ports, health: e.health, diff: e.diff || '' },
        nameOf(e.data.source) + ' → ' + nameOf(e.data.target) + (ports ? ' port ' + ports : '') + ', ' + e.data.label +
        ', health ' + (e.health === 'none' ? 'not probed' : e.health) + (e.diff ? ', ' + e.diff : ''));
    }
    ul.replaceChildren(...items);
  }

  function hostCount(n) {
    return n + (n === 1 ? ' host' : ' hosts');
  }

  function toggleRole(role) {
    const scene = visibleScene();
    model.opened.set(role, !scene.open(role));
    render();
  }

  /* A click: a role opens or closes; a host shows what depends on it. */
  async function select(id) {
    if (id.startsWith('r:')) {
      toggleRole(id.slice(2)); /* a closed role opens, an open one's box closes */
      return;
    }
    const host = model.hosts.get(id);
    const imp = await getJSON('/api/v1/impact?' + params({ target: host.name, format: 'json', 'group-by': 'host' }));
    const dependents = new Map();
    for (const item of imp.items || []) dependents.set(hostKey(item.name || item.label), item);
    model.impact = { target: id, dependents, answer: imp };
    showPanel();
    render();
  }

  function showPanel() {
    const list = $('panel-list');
    if (!model.impact) {
      $('panel-title').textContent = 'Click a host';
      $('panel-summary').textContent = 'to see what depends on it. Click a role to open or close it.';
      list.replaceChildren();
      return;
    }
    const host = model.hosts.get(model.impact.target);
    const imp = model.impact.answer;
    $('panel-title').textContent = 'What depends on ' + host.name;
    $('panel-summary').textContent = hostCount(imp.total || 0) + (imp.cut ? ' (more past the depth)' : '') + '. Click the background to clear.';
    list.replaceChildren(...(imp.items || []).map((item) => {
      const li = document.createElement('li');
      li.dataset.name = item.name || item.label;
      li.textContent = (item.name && item.name !== item.label ? item.name + ' ' + item.label : item.label) + ' — depth ' + item.depth + ', ' + item.paths + (item.paths === 1 ? ' path' : ' paths');
      return li;
    }));
  }

  /* ---- the live tables ---- */

  function tableSQL() {
    if (tableSource.kind === 'saved') return typeof tableSource.key === 'number' ? SAVED_VIEWS[tableSource.key] : TABLE_SQL[tableSource.key];
    return tableSource.sql;
  }

  async function loadTable() {
    const sql = tableSQL();
    if (!sql) return;
    try {
      tableData = await query(sql);
      $('table-status').textContent = tableData.rows.length + ' rows' + (tableData.truncated ? ' (truncated)' : '') + ' at ' + new Date().toLocaleTimeString();
      $('table-status').classList.remove('error');
    } catch (err) {
      if (err instanceof NeedLogin) return;
      tableData = null;
      $('table-status').textContent = String(err.message || err);
      $('table-status').classList.add('error');
    }
    drawTable();
  }

  function compare(a, b) {
    if (a === b) return 0;
    if (a === null) return 1;
    if (b === null) return -1;
    if (typeof a === 'number' && typeof b === 'number') return a - b;
    return String(a).localeCompare(String(b), undefined, { numeric: true });
  }

  function drawTable() {
    const table = $('live-table');
    const thead = table.tHead, tbody = table.tBodies[0];
    if (!tableData) {
      thead.replaceChildren();
      tbody.replaceChildren();
      return;
    }
    const headRow = document.createElement('tr');
    tableData.columns.forEach((name, i) => {
      const th = document.createElement('th');
      th.scope = 'col';
      th.textContent = name;
      th.tabIndex = 0;
      if (tableSort.column === i) th.setAttribute('aria-sort', tableSort.ascending ? 'ascending' : 'descending');
      const sortBy = () => {
        tableSort = { column: i, ascending: tableSort.column === i ? !tableSort.ascending : true };
        drawTable();
      };
      th.addEventListener('click', sortBy);
      th.addEventListener('keydown', (e) => { if (e.key === 'Enter') sortBy(); });
      headRow.appendChild(th);
    });
    thead.replaceChildren(headRow);
    const filter = $('table-filter').value.trim().toLowerCase();
    let rows = tableData.rows;
    if (filter) rows = rows.filter((r) => r.some((v) => v !== null && String(v).toLowerCase().includes(filter)));
    if (tableSort.column >= 0) {
      const c = tableSort.column, sign = tableSort.ascending ? 1 : -1;
      rows = [...rows].sort((a, b) => sign * compare(a[c], b[c]));
    }
    const stateColumn = tableData.columns.indexOf('state');
    tbody.replaceChildren(...rows.map((r) => {
      const tr = document.createElement('tr');
      r.forEach((v, i) => {
        const td = document.createElement('td');
        td.textContent = v === null ? '' : typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(3) : String(v);
        if (i === stateColumn && v) td.className = 'state-' + v;
        tr.appendChild(td);
      });
      return tr;
    }));
  }

  function chooseTable(source) {
    tableSource = source;
    tableSort = { column: -1, ascending: true };
    for (const b of document.querySelectorAll('.saved-view')) {
      const key = /^\d+$/.test(b.dataset.view) ? Number(b.dataset.view) : b.dataset.view;
      b.setAttribute('aria-pressed', String(source.kind === 'saved' && source.key === key));
    }
    $('sql').value = tableSQL();
    loadTable();
  }

  /* ---- views and wiring ---- */

  function showView(which) {
    view = which;
    $('graph-view').hidden = which !== 'graph';
    $('table-view').hidden = which !== 'table';
    $('tab-graph').setAttribute('aria-pressed', String(which === 'graph'));
    $('tab-table').setAttribute('aria-pressed', String(which === 'table'));
    if (which === 'table') loadTable();
    if (which === 'graph' && cy) {
      cy.resize();
      cy.fit(undefined, 24);
    }
  }

  async function reloadGraph() {
    await Promise.all([loadGraph(), loadHealth()]);
    shownSignature = '';
    render();
    showPanel();
  }

  async function refreshHealth() {
    if (view === 'graph') {
      await loadHealth();
      render();
    } else {
      await loadTable();
    }
  }

  function wire() {
    $('tab-graph').addEventListener('click', () => showView('graph'));
    $('tab-table').addEventListener('click', () => showView('table'));
    $('graph-controls').addEventListener('submit', (e) => {
      e.preventDefault();
      setStatus('loading…');
      reloadGraph().catch(failed);
    });
    $('search').addEventListener('input', () => {
      model.search = $('search').value.trim().toLowerCase();
      render();
    });
    for (const id of ['only-problems', 'hide-hubs', 'hub-limit']) $(id).addEventListener('change', () => render());
    for (const b of document.querySelectorAll('.saved-view')) {
      b.addEventListener('click', () => chooseTable({ kind: 'saved', key: /^\d+$/.test(b.dataset.view) ? Number(b.dataset.view) : b.dataset.view }));
    }
    $('sql-form').addEventListener('submit', (e) => {
      e.preventDefault();
      chooseTable({ kind: 'own', sql: $('sql').value });
    });
    $('table-filter').addEventListener('input', drawTable);
    $('sql').value = SAVED_VIEWS[0];
    $('sql').addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) $('sql-form').requestSubmit();
    });
  }

  async function start() {
    wire();
    const who = await getJSON('/login');
    if (who.login === 'required') {
      showLogin(new URLSearchParams(location.search).get('login') === 'refused');
      return;
    }
    $('logout').hidden = who.login !== 'done';
    $('tabs').hidden = false;
    $('login').hidden = true;
    makeCy();
    startWorker();
    showView(location.hash === '#table' ? 'table' : 'graph');
    chooseTable({ kind: 'saved', key: 0 });
    await reloadGraph();
    setInterval(() => refreshHealth().catch(failed), REFRESH_MS);
    setInterval(() => { if (view === 'graph') reloadGraph().catch(failed); }, GRAPH_REFRESH_MS);
  }

  start().catch(failed);
})();
