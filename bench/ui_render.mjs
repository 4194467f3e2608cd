// ui_render.mjs - render time of the UI's canvas flame graph for 8,192 and 65,536
// synthetic nodes in headless Chromium. Prints figures only (no assertions).
//
//   node bench/ui_render.mjs        (after `npm ci` in tests/e2e; CHROMIUM overrides the browser)
//
// Serves ui/ from a throwaway loopback HTTP server so the page can import the real ES
// modules, builds a random tree of N nodes in the server's level encoding, then times:
// decode (levels -> typed arrays), the first draw, a redraw (median of 20), a zoomed
// redraw, a search, the DOM list the tests read, and the layout pass that folds
// single-child chains (run on every search, focus and expand/collapse).

import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// browser.mjs resolves playwright-core from tests/e2e/node_modules
const { launch } = await import(path.join(ROOT, 'tests/e2e/lib/browser.mjs'));

const TYPES = { '.js': 'text/javascript', '.css': 'text/css', '.html': 'text/html', '.svg': 'image/svg+xml' };
const PAGE = `<!doctype html><html data-theme="light"><head><link rel="stylesheet" href="/css/app.css"></head>
<body><div id="host" style="width:1400px"></div></body></html>`;

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  if (url.pathname === '/__bench') { res.writeHead(200, { 'Content-Type': 'text/html' }); res.end(PAGE); return; }
  const file = path.join(ROOT, 'ui', path.normalize(url.pathname).replace(/^(\.\.[/\\])+/, ''));
  if (!file.startsWith(path.join(ROOT, 'ui')) || !fs.existsSync(file) || fs.statSync(file).isDirectory()) { res.writeHead(404); res.end(); return; }
  res.writeHead(200, { 'Content-Type': TYPES[path.extname(file)] || 'application/octet-stream' });
  fs.createReadStream(file).pipe(res);
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}`;

const browser = await launch({ viewport: { width: 1440, height: 900 } });
try {
  const page = await browser.ctx.newPage();
  await page.goto(`${base}/__bench`);
  console.log('ui_render: canvas flame graph, 1400 px wide, headless Chromium (ms)');
  console.log('nodes     decode  first-draw  redraw(p50)  zoomed-redraw  search  dom-list   layout  bars-drawn  folded');
  for (const n of [8192, 65536]) {
    const r = await page.evaluate(async (N) => {
      const { decodeFlamegraph } = await import('/js/flamedata.js');
      const { FlameGraph } = await import('/js/flamegraph.js');
      // random tree in the server's encoding (pyroscope-api.md §3.1)
      let seed = 42;
      const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
      const pk = ['github.com/acme/api', 'runtime', 'net/http', 'encoding/json', 'github.com/acme/db', 'compress/gzip', 'sync', 'syscall'];
      const nodes = [{ name: 'total', self: 0, kids: [], depth: 0 }];
      for (let i = 1; i < N; i++) {
        // attach below a recent node most of the time, so stacks get deep
        const p = nodes[Math.max(0, nodes.length - 1 - Math.floor(rnd() ** 3 * nodes.length))];
        // one frame in eight has no self time, so some single-child chains fold
        const c = { name: `${pk[i % pk.length]}.fn${i}`, self: i % 8 ? 1 + Math.floor(rnd() * 1000) : 0, kids: [], depth: p.depth + 1 };
        p.kids.push(c);
        nodes.push(c);
      }
      const tot = (x) => (x.total = x.self + x.kids.reduce((a, k) => a + tot(k), 0));
      tot(nodes[0]);
      const names = [], idx = new Map(), levels = [];
      let cur = [[nodes[0], 0]];
      while (cur.length) {
        const v = []; let prev = 0; const next = [];
        for (const [x, ax] of cur) {
          if (!idx.has(x.name)) { idx.set(x.name, names.length); names.push(x.name); }
          v.push(ax - prev, x.total, x.self, idx.get(x.name)); prev = ax + x.total;
          let cx = ax + x.self;
          for (const k of x.kids.sort((a, b) => (a.name < b.name ? -1 : 1))) { next.push([k, cx]); cx += k.total; }
        }
        levels.push({ values: v.map(String) });
        cur = next;
      }
      const fg = JSON.parse(JSON.stringify({ names, levels, total: String(nodes[0].total), maxSelf: '1000' }));
      const host = document.getElementById('host');
      host.innerHTML = '';
      let t = performance.now();
      const data = decodeFlamegraph(fg);
      const decode = performance.now() - t;
      const w = new FlameGraph(host, { pane: 'bench' });
      w.setData(data);
      t = performance.now(); w.draw(); const first = performance.now() - t;
      const times = [];
      for (let i = 0; i < 20; i++) { t = performance.now(); w.draw(); times.push(performance.now() - t); }
      times.sort((a, b) => a - b);
      // zoom into the widest node two levels down
      let z = 0;
      for (let d = 0; d < 2 && data.childCount[z]; d++) {
        let best = data.firstChild[z];
        for (let c = best; c < data.firstChild[z] + data.childCount[z]; c++) if (data.total[c] > data.total[best]) best = c;
        z = best;
      }
      w.focusNode(z, false, false);
      t = performance.now(); w.draw(); const zoomed = performance.now() - t;
      w.focusNode(0, false, false);
      t = performance.now(); w.setSearch('json'); w.draw(); const search = performance.now() - t;
      t = performance.now(); w.writeList(); const list = performance.now() - t;
      const drawn = w.drawnCount;
      t = performance.now(); w.relayout(); const layout = performance.now() - t;
      const folded = data.n - w.lay.order.length;
      w.destroy();
      return { decode, first, p50: times[10], zoomed, search, list, layout, drawn, folded, n: data.n };
    }, n);
    const f = (x) => x.toFixed(2).padStart(7);
    console.log(`${String(r.n).padEnd(8)} ${f(r.decode)} ${f(r.first)}      ${f(r.p50)}        ${f(r.zoomed)} ${f(r.search)}  ${f(r.list)}  ${f(r.layout)}  ${String(r.drawn).padStart(10)}  ${String(r.folded).padStart(6)}`);
  }
} finally {
  await browser.close();
  server.close();
}
