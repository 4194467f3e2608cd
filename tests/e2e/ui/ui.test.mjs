// Browser test of the Fornax web UI against a real `fornax -target=all` loaded with the
// shared fixtures. Headless Debian Chromium via playwright-core. The flame graph is read
// through the DOM list it mirrors its drawn bars into (<ol data-testid="flame-nodes">),
// never from pixels. Screenshots of every view go to build/e2e-screenshots/.
//
// Run: make test-e2e, or `node --test tests/e2e/ui/` after `make` (FORNAX_BIN picks the
// binary directory, default build/bin).

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { Profile } from 'pprof-format';
import { Fornax, ROOT, FIXTURES } from '../lib/fornax.mjs';
import { launch } from '../lib/browser.mjs';

const CPU = 'process_cpu:cpu:nanoseconds:cpu:nanoseconds';
const SHOTS = path.join(ROOT, 'build/e2e-screenshots');
const ROW = 18; // flame graph row height (ui/js/flamegraph.js)
const MIN = 60e3;
const NOW = Math.floor(Date.now() / 1000) * 1000;
const RANGE = { from: String(NOW - 60 * MIN), until: String(NOW + MIN) };
const sec = (ms) => String(Math.floor(ms / 1000));

const CFP_TEXT = fs.readFileSync(path.join(FIXTURES, 'folded/perf-c-framepointer.folded'), 'utf8');
const GO_CPU = fs.readFileSync(path.join(FIXTURES, 'pprof/go-cpu.pb.gz'));
const REGRESS_BASE = 'main;serve;handle;parse 100\nmain;serve;handle;compress 100\nmain;gc 50\n';
const REGRESS_NEW = 'main;serve;handle;parse 60\nmain;serve;handle;compress 400\nmain;gc 50\n';
const BASE_T = NOW - 50 * MIN, NEW_T = NOW - 10 * MIN;

let fornax, browser;

// ---- expectations computed from the fixtures ----------------------------------------

function parseFolded(text) {
  const root = { name: 'total', total: 0, self: 0, kids: new Map() };
  const selfBy = new Map();
  for (const line of text.split('\n')) {
    const m = /^(.*) (\d+)$/.exec(line.trim());
    if (!m) continue;
    const v = Number(m[2]);
    let n = root;
    n.total += v;
    const frames = m[1].split(';');
    for (const f of frames) {
      if (!n.kids.has(f)) n.kids.set(f, { name: f, total: 0, self: 0, kids: new Map() });
      n = n.kids.get(f);
      n.total += v;
    }
    n.self += v;
    selfBy.set(frames[frames.length - 1], (selfBy.get(frames[frames.length - 1]) || 0) + v);
  }
  return { root, selfBy };
}

// Nodes at depth <= maxDepth as {depth, name, share}.
function expectedNodes(root, maxDepth) {
  const out = [];
  const walk = (n, d) => {
    out.push({ depth: d, name: n.name, share: n.total / root.total });
    if (d < maxDepth) for (const k of n.kids.values()) walk(k, d + 1);
  };
  walk(root, 0);
  return out;
}

// ---- page helpers ---------------------------------------------------------------------

function hashOf(state) {
  return '#' + new URLSearchParams(state).toString();
}

const paneSel = (pane) => `[data-testid="flamegraph"][data-pane="${pane}"]`;

async function waitReady(page, pane = 'main') {
  await page.waitForFunction((sel) => {
    const el = document.querySelector(sel);
    return el && el.dataset.state === 'ready' && el.querySelectorAll('[data-testid="flame-nodes"] li').length > 0;
  }, paneSel(pane), { timeout: 20000 });
}

async function open(state, pane = 'main') {
  const page = await browser.ctx.newPage();
  page.on('pageerror', (e) => { page.errors = (page.errors || []).concat(e.message); });
  await page.goto(`${fornax.url}/${hashOf(state)}`);
  if (pane) await waitReady(page, pane);
  return page;
}

async function nodes(page, pane = 'main') {
  return page.$$eval(`${paneSel(pane)} [data-testid="flame-nodes"] li`, (els) => els.map((e) => ({
    name: e.dataset.name, depth: Number(e.dataset.depth), total: Number(e.dataset.total), self: Number(e.dataset.self),
    share: Number(e.dataset.share), color: e.dataset.color, fill: e.dataset.fill, highlighted: e.dataset.highlighted === 'true',
    row: Number(e.dataset.row), collapsed: Number(e.dataset.collapsed || 0), group: e.dataset.group ? e.dataset.group.split(';') : [],
    marked: e.dataset.marked === 'true', x: Number(e.dataset.x), width: Number(e.dataset.width),
    baseline: Number(e.dataset.baseline), comparison: Number(e.dataset.comparison), diff: Number(e.dataset.diff),
  })));
}

async function shot(page, name) {
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

// Click the middle of a drawn bar (rows count display rows: folded chains take one).
async function clickBar(page, pane, name, opts = {}) {
  const n = (await nodes(page, pane)).find((b) => b.name === name);
  assert.ok(n, `bar ${name} is drawn in ${pane}`);
  const box = await page.locator(`${paneSel(pane)} canvas`).boundingBox();
  await page.mouse.click(box.x + n.x + n.width / 2, box.y + n.row * ROW + ROW / 2, opts);
  return n;
}

async function hoverBar(page, pane, name) {
  const n = (await nodes(page, pane)).find((b) => b.name === name);
  assert.ok(n, `bar ${name} is drawn in ${pane}`);
  const box = await page.locator(`${paneSel(pane)} canvas`).boundingBox();
  await page.mouse.move(box.x + n.x + n.width / 2, box.y + n.row * ROW + ROW / 2);
}

// Right-click a bar and pick a context menu entry by its action name.
async function menuPick(page, pane, name, action) {
  await clickBar(page, pane, name, { button: 'right' });
  await page.click(`[data-testid="flame-menu"] button[data-action="${action}"]`);
}

// Wait until a pane's list was rewritten after `before` (its data-render-count).
async function waitRender(page, pane, before) {
  await page.waitForFunction(([sel, n]) => {
    const el = document.querySelector(sel);
    return Number(el.dataset.renderCount) > n && el.dataset.state === 'ready';
  }, [paneSel(pane), before]);
}
const renderCount = async (page, pane = 'main') => Number(await page.getAttribute(paneSel(pane), 'data-render-count'));

async function download(page, testid) {
  await page.click('[data-testid="export"]');
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click(`[data-testid="${testid}"]`)]);
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'fornax-dl-')), dl.suggestedFilename());
  await dl.saveAs(file);
  return file;
}

const close = (a, b, eps = 1e-6) => Math.abs(a - b) <= eps;

// ---- setup ----------------------------------------------------------------------------

before(async () => {
  fornax = await Fornax.start({ name: 'ui-e2e' });
  const t = NOW - 20 * MIN;
  await fornax.ingest({ name: 'cfp.cpu', from: sec(t), until: sec(t + 10e3), sampleRate: '100', spyName: 'perf' }, CFP_TEXT);
  await fornax.ingest({ name: 'regress.cpu', from: sec(BASE_T), until: sec(BASE_T + 10e3), sampleRate: '100' }, REGRESS_BASE);
  await fornax.ingest({ name: 'regress.cpu', from: sec(NEW_T), until: sec(NEW_T + 10e3), sampleRate: '100' }, REGRESS_NEW);
  await fornax.ingest({ name: 'tagged.cpu{pod=p1}', from: sec(t), until: sec(t + 10e3), sampleRate: '100' }, 'a;b 30\n');
  await fornax.ingest({ name: 'tagged.cpu{pod=p2}', from: sec(t), until: sec(t + 10e3), sampleRate: '100' }, 'a;c 10\n');
  await fornax.ingest({ name: 'goapp', format: 'pprof', from: sec(t), until: sec(t + 10e3) }, GO_CPU);
  await fornax.until(async () => {
    const r = await fornax.rpc('SelectMergeStacktraces', { profileTypeID: CPU, labelSelector: '{service_name="cfp"}', start: NOW - 60 * MIN, end: NOW + MIN });
    return r.flamegraph && Number(r.flamegraph.total) > 0;
  }, 'the pushed profiles to be queryable');
  browser = await launch();
});

after(async () => {
  if (browser) await browser.close();
  if (fornax) await fornax.stop();
});

const CFP = { query: CPU, sel: '{service_name="cfp"}', ...RANGE };
const CFP_FLAT = { ...CFP, collapse: 'off' }; // every frame on its own row

// ---- tests ----------------------------------------------------------------------------

describe('single view', () => {
  it('draws the right top frames and table', async () => {
    const page = await open({ ...CFP });
    const got = await nodes(page);
    const { root, selfBy } = parseFolded(CFP_TEXT);
    for (const e of expectedNodes(root, 4).filter((n) => n.share >= 0.005)) {
      const n = got.find((b) => b.depth === e.depth && b.name === e.name);
      if (!n) {
        // folded into the bar of its chain's head
        assert.ok(got.find((b) => b.depth < e.depth && b.group.includes(e.name)), `frame ${e.name} at depth ${e.depth} is drawn or folded`);
        continue;
      }
      assert.ok(close(n.share, e.share), `${e.name} share ${n.share} = ${e.share}`);
    }
    const top = got.filter((b) => b.depth === 1);
    assert.deepEqual(top.map((b) => b.name), ['work']);
    assert.ok(got.find((b) => b.depth === 0 && b.name === 'total' && b.share === 1));
    // top table sorted by self: the fixture's hottest self frames first
    const rows = await page.$$eval('[data-testid="top-table"] [data-testid="top-row"]', (rs) => rs.map((r) => ({ name: r.dataset.name, self: Number(r.dataset.self) })));
    const bySelf = [...selfBy.entries()].sort((a, b) => b[1] - a[1]);
    assert.deepEqual(rows.slice(0, 3).map((r) => r.name), bySelf.slice(0, 3).map(([n]) => n));
    const scale = rows[0].self / bySelf[0][1];
    assert.ok(close(rows[1].self / scale, bySelf[1][1], 1e-6 * bySelf[1][1]));
    // the timeline has points
    await page.waitForFunction(() => Number(document.querySelector('[data-testid="timeline"]').dataset.points) > 0);
    assert.equal(await page.isHidden('[data-testid="tenant"]'), true, 'no tenant switcher without multi-tenancy');
    await shot(page, 'single');
    assert.deepEqual(page.errors || [], []);
    await page.close();
  });

  it('search highlights matches and reports their share', async () => {
    const page = await open({ ...CFP });
    await page.keyboard.press('/');
    await page.keyboard.type('crc');
    await page.waitForFunction((sel) => {
      const li = document.querySelector(`${sel} li[data-name="crc_bytes"]`);
      return li && li.dataset.highlighted === 'true';
    }, paneSel('main'));
    await waitReady(page);
    const got = await nodes(page);
    for (const n of got) {
      if (n.name === 'crc_bytes') assert.ok(n.highlighted && n.color.startsWith('pkg-'), 'match keeps its colour');
      else if (n.name !== 'total') assert.equal(n.color, 'dim', `${n.name} is greyed`);
    }
    const { root } = parseFolded(CFP_TEXT);
    const crc = root.kids.get('work').kids.get('__libc_start_call_main').kids.get('main').kids.get('serve').kids.get('handle_request').kids.get('crc_bytes');
    const share = Number(await page.getAttribute(paneSel('main'), 'data-match-share'));
    assert.ok(close(share, crc.total / root.total), `match share ${share}`);
    const summary = await page.textContent('[data-testid="search-summary"]');
    assert.match(summary, new RegExp(`${(crc.total / root.total * 100).toFixed(1)}% of total`));
    assert.match(page.url(), /search=crc/);
    await page.waitForSelector('[data-testid="top-row"].hl[data-name="crc_bytes"]');
    await shot(page, 'search');
    await page.close();
  });

  it('click focuses (zooms) a frame; Escape resets; back/forward restore it', async () => {
    const page = await open({ ...CFP_FLAT });
    const W = (await page.locator(`${paneSel('main')} canvas`).boundingBox()).width;
    await clickBar(page, 'main', 'handle_request');
    const path1 = 'work;__libc_start_call_main;main;serve;handle_request';
    await page.waitForFunction(([sel, p]) => document.querySelector(sel).dataset.focus === p, [paneSel('main'), path1]);
    await waitReady(page);
    let got = await nodes(page);
    const hr = got.find((b) => b.name === 'handle_request');
    assert.ok(hr.width >= W - 2, `focused bar spans the width (${hr.width} of ${W})`);
    assert.ok(got.find((b) => b.name === 'crc_bytes').width > W * 0.9, 'its child is zoomed too');
    assert.equal(got.find((b) => b.name === 'sort_ints'), undefined, 'frames outside the focus are not drawn');
    assert.ok(got.find((b) => b.name === 'serve' && b.width >= W - 2), 'ancestors span the width');
    assert.match(decodeURIComponent(page.url()), /focus=work;__libc_start_call_main;main;serve;handle_request/);
    await shot(page, 'focus');
    // Escape on the focused canvas resets the zoom
    await page.keyboard.press('Escape');
    await page.waitForFunction((sel) => document.querySelector(sel).dataset.focus === '', paneSel('main'));
    await waitReady(page);
    assert.ok((await nodes(page)).find((b) => b.name === 'sort_ints'), 'reset shows everything again');
    // back restores the focus, forward resets it again
    await page.goBack();
    await page.waitForFunction(([sel, p]) => document.querySelector(sel).dataset.focus === p, [paneSel('main'), path1]);
    await page.goForward();
    await page.waitForFunction((sel) => document.querySelector(sel).dataset.focus === '', paneSel('main'));
    // keyboard: Home selects the root, ArrowDown its widest child, Enter focuses it
    await page.focus(`${paneSel('main')} canvas`);
    await page.keyboard.press('Home');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Enter');
    await page.waitForFunction((sel) => document.querySelector(sel).dataset.focus === 'work', paneSel('main'));
    await page.close();
  });

  it('URL state round-trips into a new page', async () => {
    const state = { ...CFP, search: 'crc', focus: 'work;__libc_start_call_main;main', display: 'flame' };
    const page = await open(state);
    await page.waitForFunction((sel) => document.querySelector(`${sel} li[data-name="crc_bytes"]`)?.dataset.highlighted === 'true', paneSel('main'));
    await waitReady(page);
    const url = page.url();
    const before = await nodes(page);
    assert.equal(await page.isHidden('[data-testid="top-table"]'), true, 'display=flame hides the table');
    const page2 = await browser.ctx.newPage();
    await page2.goto(url);
    await waitReady(page2);
    await page2.waitForFunction((sel) => document.querySelector(`${sel} li[data-name="crc_bytes"]`)?.dataset.highlighted === 'true', paneSel('main'));
    await waitReady(page2);
    assert.equal(await page2.getAttribute(paneSel('main'), 'data-focus'), state.focus);
    assert.equal(await page2.inputValue('[data-testid="search"]'), 'crc');
    assert.equal(await page2.inputValue('[data-testid="label-selector"]'), CFP.sel);
    assert.deepEqual((await nodes(page2)).map((n) => [n.name, n.depth, n.highlighted]), before.map((n) => [n.name, n.depth, n.highlighted]));
    assert.equal(page2.url(), url);
    // switching the display is a new history entry
    await page2.click('[data-testid="display"] button[data-value="table"]');
    await page2.waitForSelector('[data-testid="top-table"]', { state: 'visible' });
    await page2.goBack();
    await page2.waitForSelector('[data-testid="top-table"]', { state: 'hidden' });
    await page.close();
    await page2.close();
  });

  it('sandwich view shows callers and callees of a function', async () => {
    const page = await open({ ...CFP_FLAT, display: 'sandwich', fn: 'crc_bytes' }, 'callers');
    await waitReady(page, 'callees');
    const callers = await nodes(page, 'callers');
    const chain = ['crc_bytes', 'handle_request', 'serve', 'main', '__libc_start_call_main', 'work'];
    chain.forEach((name, depth) => assert.ok(callers.find((n) => n.name === name && n.depth === depth), `caller ${name} at ${depth}`));
    const callees = await nodes(page, 'callees');
    assert.equal(callees.find((n) => n.depth === 0).name, 'crc_bytes');
    await shot(page, 'sandwich');
    await page.close();
  });

  it('colour by self time makes the frames doing the work the hottest', async () => {
    const page = await open({ ...CFP });
    let rc = await renderCount(page);
    await page.click('[data-testid="color-mode"] button[data-value="self"]');
    await waitRender(page, 'main', rc);
    assert.match(page.url(), /color=self/);
    assert.equal(await page.getAttribute(paneSel('main'), 'data-color-mode'), 'self');
    const by = Object.fromEntries((await nodes(page)).map((n) => [n.name, n]));
    const heat = (n) => Number(/^heat-(\d+)$/.exec(by[n].color)[1]);
    // self: sort_ints 673, crc_bytes 667, __random 119, serve 0 (fixture samples)
    assert.equal(heat('sort_ints'), 23);
    assert.equal(heat('crc_bytes'), 23);
    assert.ok(heat('__random') > 0 && heat('__random') < heat('crc_bytes'));
    assert.equal(heat('serve'), 0, 'no self time: neutral');
    assert.equal(by.total.color, 'root');
    const [r, g, b] = by.sort_ints.fill.match(/\d+/g).map(Number);
    assert.ok(r > g && r > b || /^hsl\(0 /.test(by.sort_ints.fill), `hottest is red: ${by.sort_ints.fill}`);
    await shot(page, 'color-self');
    // and back to package colours
    rc = await renderCount(page);
    await page.click('[data-testid="color-mode"] button[data-value=""]');
    await waitRender(page, 'main', rc);
    assert.ok((await nodes(page)).find((n) => n.name === 'sort_ints').color.startsWith('pkg-'));
    await page.close();
  });

  it('label autocomplete and timeline drag update the query', async () => {
    const page = await open({ ...CFP });
    const input = page.locator('[data-testid="label-selector"]');
    await input.fill('');
    await input.type('{serv');
    await page.waitForSelector('[data-testid="autocomplete"] li:has-text("service_name")');
    await page.keyboard.press('Tab');
    assert.equal(await input.inputValue(), '{service_name="');
    await page.waitForSelector('[data-testid="autocomplete"] li:text-is("regress")');
    await page.click('[data-testid="autocomplete"] li:text-is("regress")');
    assert.equal(await input.inputValue(), '{service_name="regress"}');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => decodeURIComponent(location.hash).includes('sel={service_name="regress"}'));
    await waitReady(page);
    assert.ok((await nodes(page)).find((n) => n.name === 'compress'));
    // drag across the middle of the timeline selects that range
    await page.waitForFunction(() => Number(document.querySelector('[data-testid="timeline"]').dataset.points) > 0);
    const box = await page.locator('[data-testid="timeline"] canvas').boundingBox();
    await page.mouse.move(box.x + box.width * 0.3, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.5, box.y + box.height / 2, { steps: 5 });
    await page.mouse.up();
    await page.waitForFunction((f) => new URLSearchParams(location.hash.slice(1)).get('from') !== f, RANGE.from);
    const p = new URLSearchParams(new URL(page.url()).hash.slice(1));
    const from = Number(p.get('from')), until = Number(p.get('until'));
    assert.ok(from > Number(RANGE.from) && until < Number(RANGE.until) && from < until, `dragged range ${from}..${until}`);
    await page.close();
  });
});

describe('folded chains and the context menu', () => {
  it('single-child chains fold into one bar; a group and all groups expand and collapse', async () => {
    const page = await open({ ...CFP });
    assert.equal(await page.getAttribute(paneSel('main'), 'data-collapse'), 'on');
    let got = await nodes(page);
    const work = got.find((b) => b.name === 'work');
    assert.deepEqual([work.row, work.collapsed, work.group], [1, 2, ['__libc_start_call_main', 'main']]);
    assert.equal(got.find((b) => b.name === 'main'), undefined, 'folded frames are not drawn');
    const serve = got.find((b) => b.name === 'serve');
    assert.deepEqual([serve.depth, serve.row], [4, 2], 'the frames below a fold move up');
    // crc_bytes is handle_request's only callee, but it does the work itself: never folded
    assert.deepEqual(['handle_request', 'crc_bytes'].map((n) => got.find((b) => b.name === n).collapsed), [0, 0]);
    assert.equal(got.find((b) => b.name === 'crc_bytes').row, 4);
    const sys = got.find((b) => b.name === 'entry_SYSCALL_64_after_hwframe');
    assert.deepEqual(sys.group, ['do_syscall_64', '__x64_sys_clock_gettime', 'posix_cpu_clock_get']);
    assert.equal(got.find((b) => b.name === 'sort_ints').collapsed, 0, 'a frame without a single child is no group');
    await hoverBar(page, 'main', 'work');
    assert.match(await page.textContent(`${paneSel('main')} .fg-tip`), /Folded \(2\)\s*__libc_start_call_main\s*main/);
    await shot(page, 'folded');
    // one group, from the context menu; the others stay folded
    let rc = await renderCount(page);
    await menuPick(page, 'main', 'work', 'Expand group');
    await waitRender(page, 'main', rc);
    got = await nodes(page);
    assert.deepEqual(['work', '__libc_start_call_main', 'main', 'serve'].map((n) => got.find((b) => b.name === n).row), [1, 2, 3, 4]);
    assert.equal(got.find((b) => b.name === 'work').collapsed, 0);
    assert.equal(got.find((b) => b.name === 'entry_SYSCALL_64_after_hwframe').collapsed, 3, 'other groups stay folded');
    // 'e' on the keyboard cursor folds it again
    rc = await renderCount(page);
    await page.focus(`${paneSel('main')} canvas`);
    await page.keyboard.press('Home');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('e');
    await waitRender(page, 'main', rc);
    assert.equal((await nodes(page)).find((b) => b.name === 'work').collapsed, 2);
    // expand all: recorded in the URL, every frame on its own row
    rc = await renderCount(page);
    await page.click('[data-testid="collapse-all"]');
    await waitRender(page, 'main', rc);
    assert.match(page.url(), /collapse=off/);
    got = await nodes(page);
    assert.ok(got.every((b) => b.row === b.depth && !b.collapsed), 'no folds left');
    assert.ok(got.find((b) => b.name === 'crc_bytes' && b.depth === 6));
    // collapse all, from the context menu
    rc = await renderCount(page);
    await menuPick(page, 'main', 'serve', 'Collapse all groups');
    await waitRender(page, 'main', rc);
    assert.doesNotMatch(page.url(), /collapse=off/);
    assert.equal((await nodes(page)).find((b) => b.name === 'work').collapsed, 2);
    // a search match inside a chain is never folded away
    rc = await renderCount(page);
    await page.fill('[data-testid="search"]', '__libc_start_call_main');
    await page.keyboard.press('Enter');
    await waitRender(page, 'main', rc);
    got = await nodes(page);
    const libc = got.find((b) => b.name === '__libc_start_call_main');
    assert.ok(libc && libc.highlighted && libc.row === 2, 'the match is drawn below work');
    assert.deepEqual(libc.group, ['main'], 'the rest of the chain stays folded under it');
    assert.equal(got.find((b) => b.name === 'work').collapsed, 0);
    assert.deepEqual(page.errors || [], []);
    await page.close();
  });

  it('context menu: focus, reset, highlight similar, copy name, sandwich', async () => {
    await browser.ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: fornax.url });
    const page = await open({ ...CFP });
    await menuPick(page, 'main', 'serve', 'Focus on this frame');
    await page.waitForFunction((sel) => document.querySelector(sel).dataset.focus === 'work;__libc_start_call_main;main;serve', paneSel('main'));
    await waitReady(page);
    await menuPick(page, 'main', 'serve', 'Reset view');
    await page.waitForFunction((sel) => document.querySelector(sel).dataset.focus === '', paneSel('main'));
    await waitReady(page);
    // "work" as text would also match task_work_run and task_mm_cid_work; similar = same name
    await menuPick(page, 'main', 'work', 'Highlight similar');
    await page.waitForFunction(() => /^1 match\b/.test(document.querySelector('[data-testid="search-summary"]').textContent));
    assert.equal(await page.inputValue('[data-testid="search"]'), '/^work$/');
    await waitReady(page);
    const hl = (await nodes(page)).filter((b) => b.highlighted).map((b) => b.name);
    assert.deepEqual(hl, ['work']);
    await menuPick(page, 'main', 'handle_request', 'Copy function name');
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), 'handle_request');
    await menuPick(page, 'main', 'handle_request', 'Open in sandwich view');
    await waitReady(page, 'callers');
    assert.match(decodeURIComponent(page.url()), /display=sandwich&.*fn=handle_request/);
    assert.equal((await nodes(page, 'callers')).find((b) => b.row === 0).name, 'handle_request');
    await page.close();
  });
});

describe('diff and comparison', () => {
  const sides = {
    query: CPU, sel: '{service_name="regress"}', ...RANGE,
    lfrom: String(BASE_T - 5 * MIN), luntil: String(BASE_T + 5 * MIN),
    rfrom: String(NEW_T - 5 * MIN), runtil: String(NEW_T + 5 * MIN),
  };

  it('diff view colours the regression red and the improvement green', async () => {
    const page = await open({ ...sides, view: 'diff' }, 'diff');
    const got = await nodes(page, 'diff');
    const compress = got.find((n) => n.name === 'compress');
    const parse = got.find((n) => n.name === 'parse');
    assert.equal(compress.color, 'diff-grew');
    assert.equal(parse.color, 'diff-shrank');
    assert.ok(close(compress.baseline, 100 / 250) && close(compress.comparison, 400 / 510), `compress ${compress.baseline} -> ${compress.comparison}`);
    assert.ok(close(compress.diff, 96.08, 0.01), `compress diff ${compress.diff}`);
    assert.ok(parse.diff < 0);
    const row = await page.$eval('[data-testid="top-row"][data-name="compress"]', (r) => ({ ...r.dataset }));
    assert.ok(Number(row.diff) > 90);
    // the table sorts by the change of self share: compress itself took +38.4 points,
    // parse lost 28.2; the callers' totals (main, serve, handle) grew but not their self
    assert.equal(await page.getAttribute('[data-testid="top-table"] th[aria-sort="descending"]', 'data-key'), 'selfDelta');
    const order = await page.$$eval('[data-testid="top-row"]', (rs) => rs.map((r) => [r.dataset.name, Number(r.dataset.selfDelta)]));
    assert.equal(order[0][0], 'compress');
    assert.ok(close(order[0][1], 400 / 510 - 100 / 250), `compress self delta ${order[0][1]}`);
    assert.deepEqual(order.at(-1)[0], 'parse');
    assert.match(await page.textContent('[data-testid="top-row"][data-name="compress"]'), /\+38\.4 pp/);
    assert.equal(await page.isVisible('[data-testid="diff-legend"]'), true);
    await hoverBar(page, 'diff', 'compress');
    const tip = await page.textContent(`${paneSel('diff')} .fg-tip`);
    assert.match(tip, /Baseline\s*40\.0%/);
    assert.match(tip, /Comparison\s*78\.4%/);
    assert.match(tip, /Diff\s*\+96%/);
    await shot(page, 'diff');
    await page.close();
  });

  it('diff sandwich colours callers and callees by their own change; colour-blind palette', async () => {
    const page = await open({ ...sides, view: 'diff' }, 'diff');
    await page.dblclick('[data-testid="top-row"][data-name="handle"]');
    // the first click of the double-click highlighted it; Escape clears the search
    await page.waitForFunction(() => /search=handle/.test(location.hash));
    await page.keyboard.press('Escape');
    await page.waitForFunction(() => !/search=/.test(location.hash));
    await waitReady(page, 'callers');
    await waitReady(page, 'callees');
    assert.match(decodeURIComponent(page.url()), /view=diff.*display=sandwich.*fn=handle/);
    // handle: 200 of 250 in the baseline, 460 of 510 in the comparison
    const callers = await nodes(page, 'callers');
    const root = callers.find((b) => b.row === 0);
    assert.equal(root.name, 'handle');
    assert.ok(close(root.baseline, 200 / 250) && close(root.comparison, 460 / 510), `handle ${root.baseline} -> ${root.comparison}`);
    assert.equal(root.color, 'diff-grew');
    const serve = callers.find((b) => b.name === 'serve');
    assert.ok(serve && close(serve.comparison, 460 / 510), 'a caller carries the function\'s own value');
    const callees = await nodes(page, 'callees');
    const by = Object.fromEntries(callees.map((b) => [b.name, b]));
    assert.equal(by.compress.color, 'diff-grew');
    assert.equal(by.parse.color, 'diff-shrank');
    assert.ok(close(by.parse.baseline, 100 / 250) && close(by.parse.comparison, 60 / 510));
    await shot(page, 'diff-sandwich');
    // colour-blind palette: the shrinking callee turns from green to blue, growth stays red
    const rgb = (f) => f.match(/\d+/g).map(Number);
    let [r, g, b] = rgb(by.parse.fill);
    assert.ok(g > r && g > b, `parse is green: ${by.parse.fill}`);
    const rc = await renderCount(page, 'callees');
    await page.check('[data-testid="diff-legend"] input[type="checkbox"]');
    await waitRender(page, 'callees', rc);
    for (const pane of ['diff', 'callers', 'callees']) assert.equal(await page.getAttribute(paneSel(pane), 'data-palette'), 'colorblind');
    const after = Object.fromEntries((await nodes(page, 'callees')).map((n) => [n.name, n]));
    [r, g, b] = rgb(after.parse.fill);
    assert.ok(b > r && b > g, `parse is blue: ${after.parse.fill}`);
    [r, g, b] = rgb(after.compress.fill);
    assert.ok(r > g && r > b, `compress is red: ${after.compress.fill}`);
    await page.reload();
    await waitReady(page, 'callees');
    assert.equal(await page.getAttribute(paneSel('callees'), 'data-palette'), 'colorblind', 'the choice persists');
    await page.uncheck('[data-testid="diff-legend"] input[type="checkbox"]');
    assert.deepEqual(page.errors || [], []);
    await page.close();
  });

  it('comparison view shows both sides with their own ranges', async () => {
    const page = await open({ ...sides, view: 'comparison' }, 'left');
    await waitReady(page, 'right');
    const l = (await nodes(page, 'left')).find((n) => n.name === 'compress');
    const r = (await nodes(page, 'right')).find((n) => n.name === 'compress');
    assert.ok(close(l.share, 100 / 250) && close(r.share, 400 / 510));
    await shot(page, 'comparison');
    // a sandwich from either side opens the diff sandwich of both
    await menuPick(page, 'right', 'compress', 'Open in sandwich view');
    await waitReady(page, 'callers');
    assert.match(decodeURIComponent(page.url()), /view=diff.*display=sandwich.*fn=compress/);
    const root = (await nodes(page, 'callers')).find((b) => b.row === 0);
    assert.ok(root.name === 'compress' && close(root.baseline, 100 / 250) && close(root.comparison, 400 / 510));
    await page.close();
  });
});

describe('tag explorer', () => {
  it('groups by a label with per-value totals and shares', async () => {
    const page = await open({ query: CPU, sel: '{service_name="tagged"}', ...RANGE, view: 'tags', groupBy: 'pod' }, null);
    await page.waitForSelector('[data-testid="tag-row"]');
    const rows = await page.$$eval('[data-testid="tag-row"]', (rs) => rs.map((r) => [r.dataset.value, r.querySelector('td:last-child').textContent]));
    assert.deepEqual(rows, [['p1', '75.0%'], ['p2', '25.0%']]);
    await page.click('[data-testid="tag-row"][data-value="p1"]');
    await waitReady(page, 'tag');
    const got = await nodes(page, 'tag');
    assert.ok(got.find((n) => n.name === 'b' || n.group.includes('b')) && !got.find((n) => n.name === 'c' || n.group.includes('c')));
    await shot(page, 'tags');
    await page.close();
  });
});

describe('tag explorer: top values and Other', () => {
  it('lists the ten largest values and the rest as Other, which can be opened', async () => {
    const t = NOW - 20 * MIN;
    // q01 has 120 samples, q02 110, ... q12 10: the top ten leave q11 + q12 = 30 of 780
    for (let k = 1; k <= 12; k++) {
      const v = String(k).padStart(2, '0');
      await fornax.ingest({ name: `many.cpu{pod=q${v}}`, from: sec(t), until: sec(t + 10e3), sampleRate: '100' }, `a;f${v} ${(13 - k) * 10}\n`);
    }
    await fornax.until(async () => {
      const r = await fornax.rpc('SelectSeries', { profileTypeID: CPU, labelSelector: '{service_name="many"}', start: NOW - 60 * MIN, end: NOW + MIN, step: 60, groupBy: ['pod'] });
      return (r.series || []).length === 12;
    }, 'the twelve pods to be queryable');
    const page = await open({ query: CPU, sel: '{service_name="many"}', ...RANGE, view: 'tags', groupBy: 'pod' }, null);
    await page.waitForSelector('[data-testid="tag-row"][data-other="true"]');
    const rows = await page.$$eval('[data-testid="tag-row"]', (rs) => rs.map((r) => ({ value: r.dataset.value, other: r.dataset.other === 'true', total: Number(r.dataset.total), sd: Number(r.dataset.sd), text: r.textContent })));
    assert.equal(rows.length, 11);
    assert.deepEqual(rows.slice(0, 10).map((r) => r.value), Array.from({ length: 10 }, (_, i) => `q${String(i + 1).padStart(2, '0')}`));
    const other = rows[10];
    assert.ok(other.other && /^Other/.test(other.text));
    assert.ok(close(other.total / rows[0].total, 30 / 120, 1e-9), `Other ${other.total} vs q01 ${rows[0].total}`);
    assert.ok(rows.every((r) => r.sd >= 0 && Number.isFinite(r.sd)));
    assert.match(await page.textContent('[data-testid="view-tags"] thead'), /Std\. deviation/);
    assert.equal(await page.getAttribute('[data-testid="timeline"][data-pane="tags"]', 'data-series'), '11');
    // the donut chart: one slice per row, shares adding up to the whole
    const slices = await page.$$eval('[data-testid="tag-pie"] path', (ps) => ps.map((p) => [p.dataset.value, Number(p.dataset.share)]));
    assert.equal(slices.length, 11);
    assert.ok(close(slices.reduce((a, [, v]) => a + v, 0), 1, 1e-9));
    assert.ok(close(slices[10][1], 30 / 780, 1e-9) && close(slices[0][1], 120 / 780, 1e-9));
    await page.locator('[data-testid="tag-pie"] path[data-value="q02"]').dispatchEvent('click');
    await page.waitForFunction(() => new URLSearchParams(location.hash.slice(1)).get('gv') === 'q02');
    await waitReady(page, 'tag');
    assert.ok((await nodes(page, 'tag')).find((n) => n.name === 'f02'));
    // Other opens as "every value but the top ten"
    await page.click('[data-testid="tag-row"][data-other="true"]');
    await waitReady(page, 'tag');
    const names = (await nodes(page, 'tag')).map((n) => n.name);
    assert.ok(names.includes('f11') && names.includes('f12') && !names.includes('f01') && !names.includes('f10'), names.join(','));
    assert.match(await page.textContent('.tag-actions code'), /pod!~"q01\|q02\|.*\|q10"/);
    await shot(page, 'tags-other');
    assert.deepEqual(page.errors || [], []);
    await page.close();
  });
});

describe('exports', () => {
  it('flamebearer JSON, folded text and PNG match what is drawn', async () => {
    const page = await open({ ...CFP });
    const total = Number(await page.getAttribute(paneSel('main'), 'data-total'));
    const fb = JSON.parse(fs.readFileSync(await download(page, 'export-json'), 'utf8'));
    assert.equal(fb.version, 1);
    assert.equal(fb.metadata.format, 'single');
    assert.equal(fb.flamebearer.numTicks, total);
    assert.ok(fb.flamebearer.names.includes('crc_bytes'));
    assert.equal(fb.flamebearer.levels[0][1], total);
    const folded = fs.readFileSync(await download(page, 'export-folded'), 'utf8');
    const mine = parseFolded(folded), want = parseFolded(CFP_TEXT);
    assert.equal(mine.root.total, total);
    const k = total / want.root.total;
    for (const line of CFP_TEXT.trim().split('\n')) {
      const [stack, v] = line.trim().split(/ (?=\d+$)/);
      assert.ok(folded.includes(`${stack} ${Number(v) * k}\n`), `folded has ${stack}`);
    }
    const png = fs.readFileSync(await download(page, 'export-png'));
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    assert.ok(png.length > 2000);
    await page.close();
  });

  it('pprof export is a gzipped profile go tool pprof reads', async () => {
    const fixtureTime = Math.floor(Number(Profile.decode(zlib.gunzipSync(GO_CPU)).timeNanos) / 1e6);
    const from = Math.min(NOW - 60 * MIN, fixtureTime - 10 * MIN);
    const page = await open({ query: CPU, sel: '{service_name="goapp"}', from: String(from), until: RANGE.until });
    // the pushed Go profile's hottest function (by go tool pprof) tops the table
    const fixture = path.join(FIXTURES, 'pprof/go-cpu.pb.gz');
    const top = execFileSync('go', ['tool', 'pprof', '-top', '-sample_index=cpu', fixture], { encoding: 'utf8', env: { ...process.env, HOME: os.tmpdir() } });
    const firstRow = top.split('\n').find((l) => /^\s*[\d.]+\w*\s+[\d.]+%/.test(l));
    const hottest = firstRow.trim().split(/\s+/)[5];
    const row0 = await page.getAttribute('[data-testid="top-row"]', 'data-name');
    assert.equal(row0, hottest);
    const file = await download(page, 'export-pprof');
    assert.match(path.basename(file), /\.pb\.gz$/);
    const bytes = fs.readFileSync(file);
    assert.deepEqual([...bytes.subarray(0, 2)], [0x1f, 0x8b], 'gzip');
    const raw = execFileSync('go', ['tool', 'pprof', '-raw', file], { encoding: 'utf8', env: { ...process.env, HOME: os.tmpdir() } });
    assert.match(raw, /Samples:/);
    const p = Profile.decode(zlib.gunzipSync(bytes));
    const names = new Set(p.function.map((f) => p.stringTable.strings[Number(f.name)]));
    const drawn = (await nodes(page)).map((n) => n.name).filter((n) => n !== 'total' && n !== 'other');
    assert.ok(drawn.length > 0 && drawn.every((n) => names.has(n)), 'every drawn frame is a function in the export');
    await page.close();
  });
});

describe('explain and theme', () => {
  it('Explain shows three findings and marks the named functions', async () => {
    const probe = await fetch(`${fornax.url}/api/v1/explain`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ target: { query: { profile_type_id: CPU, label_selector: CFP.sel, start: Number(RANGE.from), end: Number(RANGE.until) } } }),
    });
    assert.notEqual(probe.status, 404, 'fornax serves /api/v1/explain (docs/explain.md)');
    const page = await open({ ...CFP });
    await page.click('[data-testid="explain"]');
    await page.waitForSelector('[data-testid="explain-panel"][data-state="ready"]', { timeout: 20000 });
    for (const id of ['explain-bottleneck', 'explain-root-cause', 'explain-fix']) {
      assert.ok((await page.textContent(`[data-testid="${id}"]`)).trim().length > 12, `${id} has text`);
    }
    const fns = (await page.getAttribute('[data-testid="explain-panel"]', 'data-functions')).split(';').filter(Boolean);
    assert.ok(fns.length > 0, 'a bottleneck function is named');
    await page.waitForFunction((sel) => document.querySelector(`${sel} li[data-marked="true"]`), paneSel('main'));
    const marked = (await nodes(page)).filter((n) => n.marked).map((n) => n.name);
    assert.ok(marked.every((n) => fns.includes(n)) && marked.length > 0);
    assert.match(page.url(), /explain=1/);
    await shot(page, 'explain');
    await page.close();
  });

  it('dark theme applies and persists', async () => {
    const page = await open({ ...CFP });
    await page.click('[data-testid="theme"]');
    assert.equal(await page.getAttribute('html', 'data-theme'), 'dark');
    await waitReady(page);
    await shot(page, 'single-dark');
    await page.reload();
    assert.equal(await page.getAttribute('html', 'data-theme'), 'dark');
    await page.click('[data-testid="theme"]');
    await page.close();
  });
});
