// Unit tests of the UI's data layer (ui/js/flamedata.js, colors.js, state.js, time.js)
// in plain Node: decoding the server's level encodings (the worked examples of
// pyroscope-api.md §3.3), aggregation, search share, sandwich trees, folded export,
// URL state and time parsing. No browser and no server needed.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeFlamegraph, decodeDiff, diffPercent, fromTrie } from '../../../ui/js/flamedata.js';
import { packageOf, diffBucket } from '../../../ui/js/colors.js';
import { parseState, stateToHash, addMatcher, splitMatchers } from '../../../ui/js/state.js';
import { parseTime, resolveRange, autoStep } from '../../../ui/js/time.js';
import { formatDuration, formatBytes, formatCount, formatter } from '../../../ui/js/format.js';
import { selectorContext } from '../../../ui/js/querybar.js';

// main;foo;bar 3, main;foo 1, main;baz 2 (names as strings, as Connect JSON sends int64)
const SINGLE = {
  names: ['total', 'main', 'foo', 'bar', 'baz'], total: '6', maxSelf: '3',
  levels: [{ values: ['0', '6', '0', '0'] }, { values: ['0', '6', '0', '1'] },
    { values: ['0', '2', '2', '4', '0', '4', '1', '2'] }, { values: ['3', '3', '3', '3'] }],
};
// left main;foo 2; right main;foo 1, main;bar 1
const DIFF = {
  names: ['total', 'main', 'foo', 'bar'], total: '4', maxSelf: '2', leftTicks: '2', rightTicks: '2',
  levels: [{ values: [0, 2, 0, 0, 2, 0, 0] }, { values: [0, 2, 0, 0, 2, 0, 1] },
    { values: [0, 0, 0, 0, 1, 1, 3, 0, 2, 2, 0, 1, 1, 2] }],
};

test('decodes the single encoding into x, parents and children', () => {
  const d = decodeFlamegraph(SINGLE);
  assert.equal(d.n, 5);
  assert.deepEqual(Array.from(d.x), [0, 0, 0, 2, 3]);
  assert.deepEqual(Array.from(d.parent), [-1, 0, 1, 1, 3]);
  assert.deepEqual([...Array(5).keys()].map((i) => d.nameOf(i)), ['total', 'main', 'baz', 'foo', 'bar']);
  assert.deepEqual(d.pathOf(4), ['main', 'foo', 'bar']);
  assert.equal(d.findPath(['main', 'foo', 'bar']), 4);
  assert.equal(d.findPath(['main', 'nope']), -1);
  assert.equal(d.rootTotal, 6);
});

test('top table counts recursion once and excludes the root', () => {
  const d = decodeFlamegraph({
    names: ['total', 'a', 'b'], total: 4, maxSelf: 2,
    // a -> b -> a (recursive a): a;b;a 2, a 2
    levels: [{ values: [0, 4, 0, 0] }, { values: [0, 4, 2, 1] }, { values: [2, 2, 0, 2] }, { values: [2, 2, 2, 1] }],
  });
  const rows = Object.fromEntries(d.topTable().map((r) => [r.name, r]));
  assert.deepEqual(Object.keys(rows).sort(), ['a', 'b']);
  assert.equal(rows.a.total, 4, 'a counted once per stack');
  assert.equal(rows.a.self, 4);
  assert.equal(rows.b.total, 2);
});

test('search share counts each stack once; regex and substring', () => {
  const d = decodeFlamegraph(SINGLE);
  const m = d.matchNames('ba');
  assert.deepEqual(d.matchShare(m.matched), { count: 2, value: 5, share: 5 / 6, lShare: 0, rShare: 0 });
  const r = d.matchNames('/^fo+$/');
  assert.equal(d.matchShare(r.matched).value, 4);
  assert.ok(d.matchNames('/(/').error);
  const nested = d.matchNames('/^(foo|bar)$/');
  assert.equal(d.matchShare(nested.matched).value, 4, 'bar under foo is not added again');
});

test('sandwich: callers and callees of a function', () => {
  const d = decodeFlamegraph(SINGLE);
  const { callers, callees } = d.sandwich('foo');
  assert.equal(callers.nameOf(0), 'foo');
  assert.deepEqual(callers.pathOf(1), ['main']);
  assert.equal(callers.total[0], 4);
  assert.equal(callees.total[0], 4);
  assert.equal(callees.self[0], 1);
  assert.deepEqual(callees.pathOf(1), ['bar']);
});

// FlameData from folded text, through the same trie layout the sandwich view uses.
function fromFolded(text) {
  const root = { name: 'total', total: 0, self: 0, kids: new Map() };
  for (const line of text.trim().split('\n')) {
    const [stack, v] = line.split(' ');
    let t = root;
    t.total += Number(v);
    for (const f of stack.split(';')) {
      if (!t.kids.has(f)) t.kids.set(f, { name: f, total: 0, self: 0, kids: new Map() });
      t = t.kids.get(f);
      t.total += Number(v);
    }
    t.self += Number(v);
  }
  return fromTrie(root);
}

test('layout folds single-child chains of >= 99% into their head', () => {
  // main -> a -> b is one chain (a and b each keep all of their parent); p -> q keeps 98%
  const d = fromFolded('main;a;b;c 60\nmain;a;b;x 40\np;q 98\np 2\nw;hot 50');
  const id = (nm) => d.names.indexOf(nm) >= 0 && [...Array(d.n).keys()].find((i) => d.nameOf(i) === nm);
  const rowsOf = (lay) => Array.from({ length: lay.maxRow + 1 }, (_, r) => Array.from(lay.order.subarray(lay.rowStart[r], lay.rowStart[r + 1])).map((i) => d.nameOf(i)));
  const lay = d.layout(true, null, null);
  assert.deepEqual(rowsOf(lay), [['total'], ['main', 'p', 'w'], ['c', 'x', 'q', 'hot']], 'a frame with self time (hot) is not folded');
  assert.equal(lay.folded[id('main')], 2);
  assert.equal(lay.bottom[id('main')], id('b'));
  assert.equal(lay.folded[id('p')], 0, 'a 98% child is not folded');
  assert.equal(lay.row[id('a')], 1, 'a folded frame shares its head row');
  assert.equal(lay.pos[id('x')], lay.rowStart[2] + 1);
  // a kept name (search match) stays visible and splits the chain
  const keep = new Uint8Array(d.names.length);
  keep[d.names.indexOf('b')] = 1;
  assert.deepEqual(rowsOf(d.layout(true, null, keep)), [['total'], ['main', 'p', 'w'], ['b', 'q', 'hot'], ['c', 'x']]);
  assert.deepEqual(rowsOf(d.layout(true, null, null, id('a'))), [['total'], ['main', 'p', 'w'], ['a', 'q', 'hot'], ['c', 'x']]);
  // flipping the chain (by its top) expands it; no collapse: rows are the levels
  d.chains();
  assert.equal(d.chainTop[id('b')], id('main'));
  const flip = new Uint8Array(d.n);
  flip[id('main')] = 1;
  const open = rowsOf(d.layout(true, flip, null));
  assert.deepEqual(open, [['total'], ['main', 'p', 'w'], ['a', 'q', 'hot'], ['b'], ['c', 'x']]);
  assert.deepEqual(rowsOf(d.layout(false, null, null)), open);
  assert.deepEqual(rowsOf(d.layout(false, flip, null)), [['total'], ['main', 'p', 'w'], ['c', 'x', 'q', 'hot']]);
});

test('diff sandwich keeps both sides', () => {
  const d = decodeDiff(DIFF);
  const { callers, callees } = d.sandwich('foo');
  for (const t of [callers, callees]) {
    assert.equal(t.kind, 'diff');
    assert.equal(t.leftTicks, 2);
    assert.equal(t.rightTicks, 2);
    assert.equal(t.lTotal[0], 2);
    assert.equal(t.rTotal[0], 1);
  }
  assert.deepEqual(callers.pathOf(1), ['main']);
  assert.equal(callers.lTotal[1], 2);
  assert.equal(callers.rTotal[1], 1);
  assert.equal(callees.lSelf[0], 2);
  assert.equal(callees.rSelf[0], 1);
});

test('folded export reproduces the stacks', () => {
  assert.equal(decodeFlamegraph(SINGLE).toFolded(), 'main;baz 2\nmain;foo 1\nmain;foo;bar 3\n');
});

test('decodes the diff encoding with both sides', () => {
  const d = decodeDiff(DIFF);
  assert.equal(d.kind, 'diff');
  assert.deepEqual(Array.from(d.total), [4, 4, 1, 3]);
  assert.deepEqual(Array.from(d.x), [0, 0, 0, 1]);
  assert.deepEqual(Array.from(d.parent), [-1, 0, 1, 1]);
  assert.equal(d.leftTicks, 2);
  const rows = Object.fromEntries(d.topTable().map((r) => [r.name, r]));
  assert.equal(rows.bar.diff, 100, 'new function');
  assert.equal(rows.foo.diff, -50);
  assert.equal(rows.main.diff, 0);
});

test('diff percent and colour buckets', () => {
  assert.equal(diffPercent(0.4, 0.8), 100);
  assert.ok(Math.abs(diffPercent(0.4, 0.5) - 25) < 1e-9);
  assert.equal(diffPercent(0, 0), 0);
  assert.equal(diffBucket(-100), 0);
  assert.equal(diffBucket(0), 10);
  assert.equal(diffBucket(100), 20);
});

test('empty and missing flame graphs decode to no nodes', () => {
  assert.equal(decodeFlamegraph(undefined).n, 0);
  assert.ok(decodeFlamegraph({ names: ['total'], levels: [] }).empty);
  assert.equal(decodeDiff(null).n, 0);
});

test('package of a frame, per language', () => {
  const cases = {
    'runtime.mallocgc': 'runtime', 'github.com/acme/api.(*S).Handle': 'github.com/acme/api',
    'java/util/HashMap.get': 'java/util', 'com.example.foo.Bar.baz': 'com.example.foo',
    'tokio::runtime::park': 'tokio', 'py::hash_chain:/srv/app/busy.py': '/srv/app/busy.py',
    './node_modules/express/lib/router.js:handle:12': 'express', 'clock_gettime@@GLIBC_2.17': 'clock',
    'do_syscall_64_[k]': 'do',
  };
  for (const [name, pkg] of Object.entries(cases)) assert.equal(packageOf(name), pkg, name);
});

test('URL state round-trips and drops defaults', () => {
  const s = parseState('#view=diff&sel=%7Ba%3D%22b%22%7D&focus=a%3Bb&bogus=1');
  assert.equal(s.view, 'diff');
  assert.equal(s.sel, '{a="b"}');
  assert.equal(s.from, 'now-1h');
  assert.deepEqual(parseState(stateToHash(s)), s);
  assert.equal(stateToHash(parseState('')), '#');
  assert.equal(parseState('#view=nope').view, 'single');
});

test('selector helpers', () => {
  assert.equal(addMatcher('{}', 'pod', 'a"b'), '{pod="a\\"b"}');
  assert.equal(addMatcher('{service_name="x", pod="old"}', 'pod', 'new'), '{service_name="x", pod="new"}');
  assert.deepEqual(splitMatchers('a="x,y", b=~"z"'), ['a="x,y"', ' b=~"z"']);
  assert.deepEqual(selectorContext('{serv', 5), { kind: 'name', partial: 'serv', from: 1 });
  assert.deepEqual(selectorContext('{a="b", pod="we', 15), { kind: 'value', name: 'pod', partial: 'we', from: 13 });
  assert.equal(selectorContext('{a="b"}', 7), null);
});

test('time expressions', () => {
  const now = 1_700_000_000_000;
  assert.equal(parseTime('now', now), now);
  assert.equal(parseTime('now-1h', now), now - 3600e3);
  assert.equal(parseTime('1700000000', now), now);
  assert.equal(parseTime(String(now), now), now);
  assert.ok(Number.isNaN(parseTime('yesterday-ish', now)));
  assert.throws(() => resolveRange('now', 'now-1h', now), /after its start/);
  assert.equal(autoStep(0, 3600e3, 300), 15);
});

test('unit formatting', () => {
  assert.equal(formatDuration(1.5e9), '1.5 s');
  assert.equal(formatDuration(2.5e6), '2.5 ms');
  assert.equal(formatBytes(3 * 1024 * 1024), '3 MiB');
  assert.equal(formatCount(12345678), '12.3 M');
  assert.equal(formatter('nanoseconds')(90e9), '1.5 min');
});
