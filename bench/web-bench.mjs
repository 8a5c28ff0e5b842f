// web-bench: a fleet of 2,000 hosts in 20 roles, stored through netdep
// serve's own API, opened in headless Chromium; the time from navigation
// start to the graph drawn as closed roles, cold (a fresh browser context
// each time, nothing cached) and warm (the same context again), against
// what the server spends answering the page's API requests.
// bench/web-bench.sh sets ND_NETDEP, ND_CHROMIUM, ND_TMP, ND_COMMIT.
import { spawn, execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import puppeteer from 'puppeteer-core';

const TARGET_MS = 2000;
const MAX_NODES = 200; /* web/app.js: past this many hosts, roles start closed */

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (run bench/web-bench.sh)`);
  return v;
};
const opts = { hosts: 2000, cold: 5, warm: 3 };
for (let i = 2; i < process.argv.length; i += 2) {
  const k = process.argv[i].replace(/^--/, ''), v = Number(process.argv[i + 1]);
  if (!(k in opts) || !Number.isInteger(v) || v < 1) {
    console.error(`web-bench: unknown option or bad value: ${process.argv[i]} ${process.argv[i + 1] ?? ''}`);
    process.exit(2);
  }
  opts[k] = v;
}
const NETDEP = env('ND_NETDEP'), TMP = env('ND_TMP');
const STORE = 'sqlite:' + path.join(TMP, 'x.db');
const started = Date.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b), m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const ms = (x) => x.toFixed(0).padStart(5) + ' ms';

// ---- the fleet: 5 services x 4 tiers = 20 roles; lb -> web -> app -> db,
// 3 servers of the next tier each, and every app also asks search:app ----
const SERVICES = ['shop', 'blog', 'mail', 'search', 'auth'];
const TIERS = [['lb', 443], ['web', 8080], ['app', 9000], ['db', 5432]];
function fleet(total) {
  const perRole = Math.ceil(total / (SERVICES.length * TIERS.length));
  if (perRole > 250) throw new Error('at most 250 hosts a role (one /24 each)');
  const hosts = [];
  const byRole = new Map();
  SERVICES.forEach((svc, s) => TIERS.forEach(([tier], t) => {
    const members = [];
    for (let i = 0; i < perRole && hosts.length < total; i++) {
      const h = { name: `${svc}-${tier}-${i + 1}`, addr: `10.${s + 1}.${t + 1}.${i + 1}`, svc, tier: t, i, links: [] };
      hosts.push(h);
      members.push(h);
    }
    byRole.set(`${svc}:${tier}`, members);
  }));
  for (const h of hosts) {
    if (h.tier + 1 < TIERS.length) {
      const [next, port] = TIERS[h.tier + 1];
      const servers = byRole.get(`${h.svc}:${next}`);
      for (let k = 0; k < 3 && k < servers.length; k++) h.links.push([servers[(h.i * 3 + k) % servers.length], port]);
    }
    if (TIERS[h.tier][0] === 'app' && h.svc !== 'search') {
      const search = byRole.get('search:app');
      h.links.push([search[h.i % search.length], TIERS[2][1]]);
    }
  }
  const rules = SERVICES.flatMap((svc, s) => TIERS.map(([tier], t) => `10.${s + 1}.${t + 1}.0/24 ${svc}:${tier}`));
  return { hosts, rules };
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

async function post(base, what, body) {
  const res = await fetch(base + '/api/v1/' + what, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) throw new Error(`POST ${what}: ${res.status} ${text.trim()}`);
}

// Runs fn over items, `width` at a time.
async function pool(items, width, fn) {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) await fn(items[next++]);
  }));
}

async function fill(base, hosts) {
  const now = Math.floor(Date.now() / 1000);
  await pool(hosts, 8, (h) => post(base, 'flush', {
    netdep_flush: 1, hostname: h.name, ts: now, first_ts: now - 10, addrs: [h.addr], namespaces: [],
    edges: h.links.map(([srv, port], k) => [h.addr, 'svc', -1, srv.addr, port, 'svc', -1, 'client', 4 + k, 1, 0, 300, 0, 4096, 8192, 1]),
  }));
  // Probe reports: each host probes the servers it uses; one link in 250 sees loss.
  await pool(hosts, 8, (h) => post(base, 'report', {
    netdep_report: 1, hostname: h.name, ts: now, interval_s: 30, addrs: [h.addr],
    indicators: { load: [0.5, 0.4, 0.3], cpu: 0.1 },
    links: h.links.map(([srv, port], k) => [srv.addr, port, 'tcp', 5, (h.i + k) % 250 === 0 ? 1 : 0, 0, 250, 900]),
  }));
}

// ---- one page load: navigation start to the graph drawn ----
// The page marks #cy with data-laid-out when it has applied the worker's
// positions (web/app.js, layout()); the mark is taken at the next frame,
// when cytoscape has painted them. The layout worker's first message out
// and first answer back are noted too, to split the browser's part.
const MARK_DRAWN = () => {
  const NativeWorker = window.Worker;
  window.Worker = class extends NativeWorker {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', () => { window.__ndLayoutBack ??= performance.now(); });
    }
    postMessage(...args) {
      window.__ndLayoutAsked ??= performance.now();
      return super.postMessage(...args);
    }
  };
  new MutationObserver((records, obs) => {
    const cy = document.getElementById('cy');
    if (!cy || !cy.dataset.laidOut) return;
    obs.disconnect();
    window.__ndLaidOut = performance.now();
    requestAnimationFrame(() => { window.__ndDrawn = performance.now(); });
  }).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-laid-out'] });
};

// serve's CPU time so far (every thread), ms: /proc/PID/stat utime + stime.
let servePid = 0;
function serveCpuMs() {
  const stat = readFileSync(`/proc/${servePid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10; /* fields 14, 15 in clock ticks of 10 ms */
}

async function openPage(page, url) {
  const statuses = [];
  const onResponse = (r) => { if (r.status() >= 400) statuses.push(`${r.status()} ${r.url()}`); };
  page.on('response', onResponse);
  const errors = [];
  const onError = (e) => errors.push(e.message);
  page.on('pageerror', onError);
  const cpu0 = serveCpuMs();
  await page.goto(url, { waitUntil: 'domcontentloaded' });
  await page.waitForFunction(() => window.__ndDrawn, { timeout: 30000, polling: 50 });
  const serveCpu = serveCpuMs() - cpu0;
  const r = await page.evaluate(() => {
    const cy = window.netdepGraph;
    const closed = cy.nodes('.role-closed');
    /* The server's part: request sent to the answer's first byte, for
     * every API request before the graph was laid out. */
    const api = performance.getEntriesByType('resource')
      .filter((e) => /^\/(api\/|login$)/.test(new URL(e.name).pathname) && e.responseEnd <= window.__ndLaidOut)
      .map((e) => ({ url: e.name, path: new URL(e.name).pathname, wait: e.responseStart - e.requestStart, asked: e.startTime, end: e.responseEnd }));
    return {
      api, laidOut: window.__ndLaidOut, drawn: window.__ndDrawn, asked: window.__ndLayoutAsked, back: window.__ndLayoutBack,
      nodes: cy.nodes().length, edges: cy.edges().length, closed: closed.length,
      plusLabels: closed.filter((n) => /\+\d+$/.test(n.data('label'))).length,
      members: closed.map((n) => n.data('members')).reduce((a, b) => a + b, 0),
      placed: cy.nodes().filter((n) => n.position('x') !== 0 || n.position('y') !== 0).length,
      status: document.getElementById('status').textContent,
    };
  });
  // Bytes on the wire (transferSize: 0 when from the cache), by path: the
  // page's requests and its layout worker's, from each one's Performance API.
  await sleep(100);
  page.off('response', onResponse);
  page.off('pageerror', onError);
  const sizes = () => performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))
    .map((e) => [new URL(e.name).pathname, e.transferSize, e.decodedBodySize]);
  const entries = await page.evaluate(sizes);
  for (const w of page.workers()) entries.push(...await w.evaluate(sizes));
  const bytesOf = new Map();
  let fromCache = 0;
  for (const [p, transferred, body] of entries) {
    const name = p.replace(/\.[0-9a-f]{8,}\./, '.');
    bytesOf.set(name, (bytesOf.get(name) || 0) + transferred);
    if (!transferred && body) fromCache++;
  }
  const requests = entries.length;
  const bytes = [...bytesOf.values()].reduce((a, b) => a + b, 0);
  if (errors.length) throw new Error('page errors: ' + errors.join('; '));
  if (statuses.length) throw new Error('failed requests: ' + statuses.join('; '));
  const api = r.api;
  const slowest = api.reduce((m, a) => (a.wait > m.wait ? a : m));
  return { ...r, serveCpu, bytes, bytesOf, requests, fromCache, apiCount: api.length, apiSum: api.reduce((t, a) => t + a.wait, 0),
    apiFirst: Math.min(...api.map((a) => a.asked)), apiDone: Math.max(...api.map((a) => a.end)), apiMax: slowest.wait, slowest: slowest.path };
}

// ---- the run ----
const { hosts, rules } = fleet(opts.hosts);
const rulesFile = path.join(TMP, 'roles.txt');
writeFileSync(rulesFile, '# web-bench: one /24 a role\n' + rules.join('\n') + '\n');
execFileSync(NETDEP, ['db', 'migrate', '--store', STORE], { stdio: ['ignore', 'ignore', 'inherit'] });
execFileSync(NETDEP, ['roles', 'import', rulesFile, '--store', STORE], { stdio: ['ignore', 'ignore', 'inherit'] });

const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const serve = spawn(NETDEP, ['serve', '--store', STORE, '--listen', `127.0.0.1:${port}`], { stdio: ['ignore', 'ignore', 'pipe'] });
servePid = serve.pid;
let serveErr = '';
serve.stderr.on('data', (d) => { serveErr += d; });
let browser = null;
let status = 1;
try {
  for (let i = 0; ; i++) {
    try {
      const res = await fetch(base + '/login');
      if (res.ok) break;
    } catch { /* not listening yet */ }
    if (serve.exitCode !== null || i > 100) throw new Error('netdep serve did not start: ' + serveErr.trim());
    await sleep(50);
  }
  const t0 = Date.now();
  await fill(base, hosts);
  const edges = hosts.reduce((s, h) => s + h.links.length, 0);
  console.log(`fleet: ${hosts.length} hosts in ${rules.length} roles, ${edges} edges, ${hosts.length} flushes and ${hosts.length} probe reports through serve in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

  browser = await puppeteer.launch({
    executablePath: env('ND_CHROMIUM'), headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--no-default-browser-check'],
  });
  const runs = { cold: [], warm: [] };
  let context = null, page = null;
  for (let i = 0; i < opts.cold; i++) {
    if (context) await context.close();
    context = await browser.createBrowserContext();
    page = await context.newPage();
    await page.setViewport({ width: 1400, height: 900 });
    await page.evaluateOnNewDocument(MARK_DRAWN);
    runs.cold.push(await openPage(page, base + '/'));
  }
  for (let i = 0; i < opts.warm; i++) runs.warm.push(await openPage(page, base + '/'));
  // The same requests from the page once it is idle, in turn: Chromium's
  // own network stack without the page's work beside it.
  const idleUrls = runs.cold[runs.cold.length - 1].api.map((a) => a.url);
  const idle = await page.evaluate(async (urls) => {
    let sum = 0;
    for (const u of urls) {
      const t = performance.now();
      const res = await fetch(u, { cache: 'no-store' });
      sum += performance.now() - t;
      await res.arrayBuffer();
    }
    return sum;
  }, idleUrls);
  await context.close();

  console.log('\nms from navigation start: the first API request, all answered, layout asked of the worker, its answer, laid out, drawn;');
  console.log('server: the API answers\' request-to-first-byte, summed (the slowest); CPU: serve\'s, ms, during the load; bytes on the wire');
  console.log('run    1st    API  asked   back  laid  DRAWN | server (slowest)                     |   CPU | nodes closed +N |   bytes req');
  const n = (x) => x.toFixed(0).padStart(5);
  for (const [kind, list] of Object.entries(runs)) {
    list.forEach((r, i) => console.log(`${kind} ${i + 1} ${n(r.apiFirst)}  ${n(r.apiDone)}  ${n(r.asked)}  ${n(r.back)} ${n(r.laidOut)}  ${n(r.drawn)} | ${n(r.apiSum)} (${r.slowest} ${r.apiMax.toFixed(0)})`.padEnd(78) +
      `| ${n(r.serveCpu)} | ${String(r.nodes).padStart(5)} ${String(r.closed).padStart(6)} ${String(r.plusLabels).padStart(3)} | ${String(r.bytes).padStart(7)} ${String(r.requests).padStart(3)}${r.fromCache ? ` (${r.fromCache} cached)` : ''}`));
  }
  const last = runs.cold[runs.cold.length - 1];
  const warmLast = runs.warm[runs.warm.length - 1];
  console.log(`\nbytes, cold (warm): ` + [...last.bytesOf].sort((a, b) => b[1] - a[1]).map(([p, b]) => `${p} ${b} (${warmLast.bytesOf.get(p) ?? 0})`).join(', '));
  console.log(`drawn: ${last.nodes} nodes, ${last.edges} edges; ${last.closed} closed roles holding ${last.members} hosts; placed ${last.placed}; status "${last.status}"`);

  // The peer, alone: the same API requests one after another from here, no
  // browser beside the server; 3 rounds, the median round.
  const urls = last.api.map((a) => a.url);
  const rounds = [];
  for (let k = 0; k < 3; k++) {
    let first = 0, whole = 0;
    for (const u of urls) {
      const t = performance.now();
      const res = await fetch(u);
      first += performance.now() - t;
      await res.arrayBuffer();
      whole += performance.now() - t;
    }
    const t = performance.now();
    const waits = await Promise.all(urls.map(async (u) => {
      const t0 = performance.now();
      const res = await fetch(u);
      const w = performance.now() - t0;
      await res.arrayBuffer();
      return w;
    }));
    rounds.push({ first, whole, atOnce: performance.now() - t, atOnceSum: waits.reduce((a, b) => a + b, 0) });
  }
  const alone = median(rounds.map((x) => x.first)), aloneWhole = median(rounds.map((x) => x.whole));
  console.log(`the same ${idleUrls.length} API requests from the idle page, in turn: ${ms(idle)} to the first bytes`);
  console.log(`server alone, the same ${urls.length} API requests from node: in turn ${ms(alone)} to the first bytes, ${ms(aloneWhole)} with the bodies; ` +
    `all at once ${ms(median(rounds.map((x) => x.atOnce)))} with the bodies, first bytes summed ${ms(median(rounds.map((x) => x.atOnceSum)))} (medians of 3 rounds)`);

  const all = [...runs.cold, ...runs.warm];
  const shapeOk = all.every((r) => r.nodes <= MAX_NODES && r.closed === rules.length && r.plusLabels === r.closed && r.members === hosts.length && r.placed === r.nodes);
  const row = (name, list) => {
    const m = (f) => median(list.map(f));
    const d = list.map((r) => r.drawn), server = m((r) => r.apiSum);
    const verdict = median(d) <= TARGET_MS ? 'PASS' : 'FAIL';
    console.log(`${name}: median ${ms(median(d))}, max ${ms(Math.max(...d))} | server ${ms(server)} (alone ${ms(alone)}, CPU ${ms(m((r) => r.serveCpu))}) | drawn / server ${(median(d) / server).toFixed(2)} (/ alone ${(median(d) / alone).toFixed(2)}) | ` +
      `split: assets and scripts ${ms(m((r) => r.apiFirst))}, API ${ms(m((r) => r.apiDone - r.apiFirst))}, page ${ms(m((r) => r.asked - r.apiDone))}, worker ${ms(m((r) => r.back - r.asked))}, apply and paint ${ms(m((r) => r.drawn - r.back))} | ` +
      `${(m((r) => r.bytes) / 1024).toFixed(0)} KiB | median <= ${TARGET_MS} ms: ${verdict}${Math.max(...d) > TARGET_MS ? ' (max above)' : ''}`);
    return verdict === 'PASS';
  };
  console.log(`\nat ${process.env.ND_COMMIT || 'unknown'}, ${hosts.length} hosts, navigation start to the roles drawn (medians of ${opts.cold} cold, ${opts.warm} warm):`);
  const coldOk = row('cold', runs.cold), warmOk = row('warm', runs.warm);
  console.log(`shape (<= ${MAX_NODES} nodes, every role closed with +N, every host in one): ${shapeOk ? 'PASS' : 'FAIL'}`);
  const pass = coldOk && warmOk && shapeOk;
  console.log(`verdict: ${pass ? 'PASS' : 'FAIL'} (${((Date.now() - started) / 1000).toFixed(1)} s in all)`);
  status = pass ? 0 : 3;
} catch (err) {
  console.error('web-bench: ' + (err.stack || err));
  if (serveErr) console.error(serveErr.trim().split('\n').slice(-10).join('\n'));
  status = 1;
} finally {
  if (browser) await browser.close();
  serve.kill('SIGTERM');
}
process.exit(status);
