// The page served by netdep serve, in Debian's chromium (tests/e2e/web.sh
// builds the fleet and sets the ND_* variables). Each step prints "ok: ..."
// or throws; a PNG of each view goes to $ND_SCREENS.
import { spawn, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import puppeteer from 'puppeteer-core';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const URL_BASE = env('ND_URL');
const SCREENS = env('ND_SCREENS');
const PROBE_ROUND_MS = 2000; // agents' --probe-interval
const REFRESH_MS = 5000; // the page's health refresh
const started = Date.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const say = (text) => console.log(`ok: ${text} (${((Date.now() - started) / 1000).toFixed(1)} s)`);

const errors = [];
const browser = await puppeteer.launch({
  executablePath: env('ND_CHROMIUM'),
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--no-default-browser-check'],
});
let helper = null;
try {
  async function newPage() {
    const p = await browser.newPage();
    await p.setViewport({ width: 1400, height: 900 });
    p.on('console', (m) => {
      if (m.type() === 'error') errors.push(`console: ${m.text()} ${JSON.stringify(m.location())}`);
    });
    p.on('pageerror', (e) => errors.push(`page: ${e.message}`));
    p.on('requestfailed', (r) => errors.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
    p.on('response', (r) => {
      if (r.status() >= 400) errors.push(`${r.status()} for ${r.url()}`);
    });
    return p;
  }
  let page = await newPage();
  const shot = (name) => page.screenshot({ path: path.join(SCREENS, name), fullPage: false });

  // Polls fn in the page until it returns something truthy.
  async function until(what, ms, fn, ...args) {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = await page.evaluate(fn, ...args);
      if (v) return v;
      if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms: ${what}`);
      await sleep(250);
    }
  }
  const textEdges = () => page.$$eval('#graph-text li[data-kind="edge"]', (lis) => lis.map((li) => ({ ...li.dataset })));

  // ---- login ----
  await page.goto(URL_BASE + '/', { waitUntil: 'networkidle0' });
  await page.waitForSelector('#login:not([hidden])');
  await shot('login.png');
  await page.type('#token', 'not-a-token-of-this-server');
  await Promise.all([page.waitForNavigation({ waitUntil: 'networkidle0' }), page.click('#login-submit')]);
  await page.waitForSelector('#login-error:not([hidden])');
  if (!page.url().endsWith('/?login=refused')) throw new Error(`refused login at ${page.url()}`);
  say('an unknown token is refused, and the form says so');
  await page.type('#token', env('ND_READER_TOKEN'));
  await Promise.all([page.waitForNavigation({ waitUntil: 'networkidle0' }), page.click('#login-submit')]);
  const cookies = await page.cookies();
  const c = cookies.find((k) => k.name === 'netdep_token');
  if (!c || !c.httpOnly || c.sameSite !== 'Strict' || c.path !== '/') throw new Error(`cookie: ${JSON.stringify(c)}`);
  await page.waitForSelector('#graph-view:not([hidden])');
  say('signed in with the reader token: an HttpOnly, SameSite=Strict cookie');

  // ---- the graph and its text form ----
  const expected = [['web1', 'db1'], ['web2', 'db1'], ['web1', 'cache1'], ['web2', 'cache1']];
  await until('the four edges, probed ok, in the text form', 60000, (want) => {
    const edges = [...document.querySelectorAll('#graph-text li[data-kind="edge"]')].map((li) => li.dataset);
    return want.every(([s, d]) => edges.some((e) => e.src === s && e.dst === d && e.health === 'ok'));
  }, expected);
  const nodes = await page.$$eval('#graph-text li[data-kind="node"]', (lis) => lis.map((li) => ({ ...li.dataset })));
  for (const [name, role] of [['web1', 'shop:web'], ['web2', 'shop:web'], ['db1', 'shop:db'], ['cache1', 'shop:cache']]) {
    if (!nodes.some((n) => n.node === name && n.role === role)) throw new Error(`no node ${name} in ${role}: ${JSON.stringify(nodes)}`);
  }
  const roles = await page.$$eval('#graph-text li[data-kind="role"]', (lis) => lis.map((li) => li.dataset.role));
  for (const r of ['shop:web', 'shop:db', 'shop:cache']) if (!roles.includes(r)) throw new Error(`no role ${r}: ${roles}`);
  await until('the worker laid the graph out', 10000, () => document.getElementById('cy').dataset.laidOut);
  const drawn = await page.evaluate(() => {
    const cy = window.netdepGraph;
    return { nodes: cy.nodes().length, edges: cy.edges().length, placed: cy.nodes().filter((n) => n.position('x') !== 0).length, parents: cy.nodes(':parent').map((n) => n.id()) };
  });
  if (drawn.placed < 4 || drawn.parents.length < 3) throw new Error(`drawn: ${JSON.stringify(drawn)}`);
  await sleep(300);
  await shot('graph.png');
  say(`the text form holds web1, web2, db1, cache1 in their roles and the 4 edges, ok; drawn ${JSON.stringify(drawn)}`);

  // ---- search: by role, by address ----
  for (const [q, want] of [['shop:db', 'db1'], ['10.89.0.22', 'cache1'], ['WEB2', 'web2']]) {
    await page.$eval('#search', (el) => { el.value = ''; });
    await page.type('#search', q);
    const found = await page.$$eval('#graph-text li[data-match="true"]', (lis) => lis.map((li) => li.dataset.node));
    if (JSON.stringify(found) !== JSON.stringify([want])) throw new Error(`search ${q}: ${found}`);
  }
  await page.$eval('#search', (el) => { el.value = ''; el.dispatchEvent(new Event('input')); });
  say('search finds a host by role, address and name');

  // ---- a click on db1: exactly its dependents ----
  async function clickNode(id) {
    const at = await page.evaluate((nodeId) => {
      const cy = window.netdepGraph;
      const p = cy.getElementById(nodeId).renderedPosition();
      const box = document.getElementById('cy').getBoundingClientRect();
      return { x: box.left + p.x, y: box.top + p.y };
    }, id);
    await page.mouse.click(at.x, at.y);
  }
  await clickNode('h:db1');
  await until('db1 selected', 10000, () => document.querySelector('#graph-text li[data-node="db1"][data-highlight="target"]'));
  const highlighted = await page.$$eval('#graph-text li[data-kind="node"][data-highlight="dependent"]', (lis) => lis.map((li) => li.dataset.node).sort());
  const panel = await page.$$eval('#panel-list li', (lis) => lis.map((li) => li.dataset.name).sort());
  if (JSON.stringify(highlighted) !== '["web1","web2"]') throw new Error(`db1's dependents highlighted: ${highlighted}`);
  if (JSON.stringify(panel) !== '["web1","web2"]') throw new Error(`db1's dependents listed: ${panel}`);
  const inCy = await page.evaluate(() => window.netdepGraph.nodes('.dependent').map((n) => n.id()).sort());
  if (JSON.stringify(inCy) !== '["h:web1","h:web2"]') throw new Error(`dependents drawn: ${inCy}`);
  await shot('impact.png');
  say('a click on db1 highlights exactly web1 and web2, and the panel lists them');

  // ---- db1's link cut, then restored ----
  const toDb = async () => (await textEdges()).filter((e) => e.dst === 'db1');
  execFileSync('ip', ['netns', 'exec', env('ND_DB_NS'), 'ip', 'link', 'set', env('ND_DB_DEV'), 'down']);
  const cut = Date.now();
  // Down after 2 failed rounds (serve --down-after 2/5), reported, then
  // seen at the page's next refresh (every 5 s).
  await until('db1\'s edges not ok', 2 * PROBE_ROUND_MS + REFRESH_MS + 2000, () =>
    [...document.querySelectorAll('#graph-text li[data-kind="edge"][data-dst="db1"]')].every((li) => li.dataset.health !== 'ok'));
  const firstSign = Date.now() - cut;
  await until('db1\'s edges red', 2 * PROBE_ROUND_MS + REFRESH_MS + 2000, () => {
    const lis = [...document.querySelectorAll('#graph-text li[data-kind="edge"][data-dst="db1"]')];
    return lis.length >= 2 && lis.every((li) => li.dataset.health === 'down' || li.dataset.health === 'refused');
  });
  const red = Date.now() - cut;
  const colour = await page.evaluate(() => window.netdepGraph.getElementById('e:h:web1>h:db1').style('line-color'));
  if (colour !== 'rgb(211,58,44)') throw new Error(`the cut edge is drawn ${colour}`);
  await shot('cut.png');
  say(`db1's link cut: its edges left ok after ${firstSign} ms, red after ${red} ms: ${JSON.stringify(await toDb())}`);
  await page.click('#only-problems');
  const problems = await textEdges();
  if (problems.length !== 2 || problems.some((e) => e.dst !== 'db1')) throw new Error(`only problems: ${JSON.stringify(problems)}`);
  await page.click('#only-problems');
  say('"only problems" keeps the two edges to db1');
  execFileSync('ip', ['netns', 'exec', env('ND_DB_NS'), 'ip', 'link', 'set', env('ND_DB_DEV'), 'up']);
  const restored = Date.now();
  await until('db1\'s edges ok again', 60000, () => {
    const lis = [...document.querySelectorAll('#graph-text li[data-kind="edge"][data-dst="db1"]')];
    return lis.length >= 2 && lis.every((li) => li.dataset.health === 'ok');
  });
  say(`restored: db1's edges ok again after ${Date.now() - restored} ms`);

  // ---- a new edge, in the diff and the time range ----
  await page.evaluate(() => {
    const box = document.getElementById('cy').getBoundingClientRect();
    return [box.left, box.top];
  }).then(([x, y]) => page.mouse.click(x + 4, y + 4)); // the background: the selection cleared
  await until('no host selected', 5000, () => !document.querySelector('#graph-text li[data-highlight]'));
  const mid = new Date(Date.now() - 1000).toISOString().replace(/\.\d+Z$/, 'Z');
  await sleep(1500);
  const ready = path.join(env('ND_READY_DIR'), 'worker-ready');
  helper = spawn('ip', ['netns', 'exec', env('ND_CACHE_NS'), env('ND_TCP_HOLD'), '--name', 'worker', '--connect', '10.89.0.21:5432:1', '--ready', ready], { stdio: 'ignore' });
  await page.$eval('#diff-target', (el) => { el.value = 'db1'; });
  await page.$eval('#diff-before', (el, v) => { el.value = v; }, `1h..${mid}`);
  await page.$eval('#diff-after', (el, v) => { el.value = v; }, `${mid}..0s`);
  await page.click('#diff-mode');
  const deadline = Date.now() + 40000;
  for (;;) {
    await page.click('#apply');
    await sleep(2500);
    const e = (await textEdges()).find((x) => x.src === 'cache1' && x.dst === 'db1');
    if (e && e.diff === 'appeared') break;
    if (Date.now() > deadline) throw new Error(`no appeared edge cache1 -> db1: ${JSON.stringify(await textEdges())}`);
  }
  const appearedStyle = await page.evaluate(() => window.netdepGraph.getElementById('e:h:cache1>h:db1').hasClass('diff-appeared'));
  if (!appearedStyle) throw new Error('the appeared edge is not drawn as such');
  await shot('diff.png');
  say(`the diff of db1 (before 1h..${mid}, after ${mid}..0s) shows cache1 -> db1 appeared`);
  await page.click('#diff-mode');
  await page.$eval('#since', (el, v) => { el.value = v; }, mid);
  await page.click('#apply');
  await until('the range since the new edge', 10000, () => {
    const lis = [...document.querySelectorAll('#graph-text li[data-kind="edge"]')];
    return lis.some((li) => li.dataset.src === 'cache1' && li.dataset.dst === 'db1' && !li.dataset.diff);
  });
  say(`the time range since ${mid} holds cache1 -> db1`);

  // ---- the live tables: the three saved views, and own SQL ----
  const doc = readFileSync(env('ND_CONNECTIVITY_DOC'), 'utf8');
  const docSql = [...doc.matchAll(/^```sql\n([\s\S]*?)\n```$/gm)].map((m) => m[1].trim());
  if (docSql.length !== 3) throw new Error(`docs/connectivity.md has ${docSql.length} sql blocks`);
  await page.click('#tab-table');
  await page.waitForSelector('#table-view:not([hidden])');
  for (let i = 0; i < 3; i++) {
    await page.click(`.saved-view[data-view="${i}"]`);
    const shown = await page.$eval('#sql', (el) => el.value);
    if (shown !== docSql[i]) throw new Error(`saved view ${i} is not docs/connectivity.md's: ${shown}`);
    const rows = await until(`saved view ${i} rows`, 10000, () => {
      const s = document.getElementById('table-status').textContent;
      const n = document.querySelectorAll('#live-table tbody tr').length;
      return /^\d+ rows/.test(s) && n > 0 ? n : 0;
    });
    if (i === 0) await shot('table.png');
    say(`saved view ${i + 1} gives ${rows} rows`);
  }
  await page.$eval('#sql', (el) => { el.value = "SELECT src, dst, port, kind, state FROM links WHERE dst_host = 'db1'"; });
  await page.click('#run-sql');
  await until('own SQL rows', 10000, () => document.querySelectorAll('#live-table tbody tr').length >= 2 &&
    document.querySelector('#live-table th').textContent === 'src');
  await page.click('#live-table th:nth-child(1)');
  await page.type('#table-filter', 'web1');
  const filtered = await page.$$eval('#live-table tbody tr', (trs) => trs.map((tr) => tr.firstChild.textContent));
  if (!filtered.length || filtered.some((s) => s !== 'web1')) throw new Error(`filter: ${filtered}`);
  await shot('table-sql.png');
  say(`own SQL, sorted and filtered: ${filtered.length} rows of web1`);

  // ---- past 200 hosts: roles closed, "+N", a click opens one ----
  // The server's answers replaced by a made-up fleet of 243 hosts.
  page = await newPage();
  const app = Array.from({ length: 240 }, (_, i) => [`app${i}`, `10.90.${i >> 8}.${i & 255}`]);
  const fleet = [['lb0', '10.91.0.1', 'lb'], ...app.map(([n, a]) => [n, a, 'app']), ['db0', '10.92.0.1', 'db'], ['db1', '10.92.0.2', 'db']];
  const graph = {
    as_of: Math.floor(Date.now() / 1000), grouping: 'host',
    nodes: fleet.map(([name, addr], id) => ({ id, kind: 'host', label: addr, name })),
    edges: [
      ...app.map((_, i) => ({ client: 0, server: i + 1, ports: [8080], connections: 1, opened: 0, failed: 0, current: true })),
      ...app.map((_, i) => ({ client: i + 1, server: 241 + (i & 1), ports: [5432], connections: 2, opened: 0, failed: 0, current: true })),
    ],
  };
  const hostRows = fleet.map(([name, addr, role]) => [name, 'shop', role, addr, 'ok']);
  await page.setRequestInterception(true);
  page.on('request', (req) => {
    const u = new URL(req.url());
    const json = (body) => req.respond({ status: 200, contentType: 'application/json', body: JSON.stringify(body) });
    if (u.pathname === '/api/v1/graph') return json(graph);
    if (u.pathname === '/api/v1/hosts') return json([]);
    if (u.pathname === '/api/v1/roles') return req.respond({ status: 200, contentType: 'text/plain', body: '' });
    if (u.pathname === '/api/v1/query' && u.searchParams.get('sql').startsWith('SELECT name, service, role')) {
      return json({ columns: ['name', 'service', 'role', 'addrs', 'state'], rows: hostRows, truncated: false });
    }
    if (u.pathname === '/api/v1/query' && u.searchParams.get('sql').startsWith('SELECT src, dst')) {
      return json({ columns: ['src', 'dst', 'port', 'kind', 'dst_host', 'state'], rows: [], truncated: false });
    }
    return req.continue();
  });
  await page.goto(URL_BASE + '/', { waitUntil: 'networkidle0' });
  const closed = await until('three closed roles', 15000, () => {
    const lis = [...document.querySelectorAll('#graph-text li[data-kind="role"]')];
    return lis.length === 3 && lis.every((li) => li.dataset.open === 'false') && lis.map((li) => li.textContent);
  });
  if (!closed.some((t) => t.includes('+240'))) throw new Error(`no "+240": ${closed}`);
  await until('laid out', 10000, () => document.getElementById('cy').dataset.laidOut);
  const before = await page.evaluate(() => window.netdepGraph.nodes().length);
  if (before !== 3) throw new Error(`${before} nodes drawn for 243 hosts in 3 closed roles`);
  await clickNode('r:shop:db');
  await until('shop:db open', 10000, () => document.querySelector('#graph-text li[data-role="shop:db"][data-open="true"]') &&
    document.querySelectorAll('#graph-text li[data-kind="node"][data-role="shop:db"]').length === 2);
  const after = await page.evaluate(() => window.netdepGraph.nodes().map((n) => n.id()).sort());
  await until('laid out again', 10000, () => Number(document.getElementById('cy').dataset.laidOut) >= 2);
  await sleep(300);
  await shot('many.png');
  await page.click('#graph-text li[data-role="shop:db"][data-kind="role"] button'); // the text form's own control
  await until('shop:db closed again', 5000, () => document.querySelector('#graph-text li[data-role="shop:db"][data-open="false"]'));
  await page.click('#hide-hubs'); // over 20 peers: lb0 (240), db0 and db1 (120 each)
  await until('hubs hidden', 5000, () => !document.querySelector('#graph-text li[data-role="shop:lb"]') &&
    !document.querySelector('#graph-text li[data-kind="node"][data-role="shop:db"]'));
  await page.click('#hide-hubs');
  say(`243 hosts: 3 closed roles ("${closed.join('", "')}"); a click on shop:db opens it: ${after.join(' ')}`);

  if (errors.length) throw new Error(`errors in the page:\n  ${errors.join('\n  ')}`);
  say('no console error, no failed request');
} finally {
  if (helper) helper.kill();
  await browser.close();
}
