// The legacy render API against its real consumer: every /pyroscope/render and
// /pyroscope/render-diff answer for the shared fixtures must pass @pyroscope/models'
// schema and decoder (what Pyroscope's UI and its React flame graph parse) plus the bar
// nesting the renderer needs (tests/e2e/lib/flamebearer_check.mjs), and count what
// was pushed.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Fornax, FIXTURES } from './lib/fornax.mjs';
import { flamebearerProblems } from './lib/flamebearer_check.mjs';

const RANGE = { from: '0', until: '4102444800' };
const FILES = ['go-cpu.pb.gz', 'go-heap.pb.gz', 'node-cpu-wall.pb.gz', 'node-heap.pb.gz'];
let f;

async function getJson(pathAndQuery) {
  const r = await fetch(`${f.url}${pathAndQuery}`);
  assert.equal(r.status, 200, `${pathAndQuery}: ${r.status} ${await r.clone().text()}`);
  return r.json();
}

function assertValid(doc, what) {
  const problems = flamebearerProblems(doc);
  assert.deepEqual(problems, [], `${what}: ${problems.slice(0, 5).join('; ')}`);
}

before(async () => {
  f = await Fornax.start({ name: 'render-flamebearer',
    flags: ['-querier.max-query-length=0', '-querier.max-query-lookback=0'] });
  for (const file of FILES) {
    const app = file.replace(/\.pb\.gz$/, '').replace(/-/g, '_');
    await f.ingest({ name: `${app}{env=prod}`, format: 'pprof' }, fs.readFileSync(path.join(FIXTURES, 'pprof', file)));
  }
});

after(async () => { if (f) await f.stop(); });

test('every profile type renders as flamebearer the Pyroscope UI accepts', async () => {
  const types = (await (await fetch(`${f.url}/querier.v1.QuerierService/ProfileTypes`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ start: '0', end: '4102444800000' }) })).json()).profileTypes.map((t) => t.ID);
  assert.ok(types.length >= 6, `profile types: ${types}`);
  const nodes = (doc) => doc.flamebearer.levels.reduce((n, level) => n + level.length / 4, 0);
  let shrunk = 0;
  for (const type of types) {
    let full = 0;
    for (const extra of ['', '&max-nodes=16', '&groupBy=service_name']) {
      const q = new URLSearchParams({ query: `${type}{}`, ...RANGE });
      const doc = await getJson(`/pyroscope/render?${q}${extra}`);
      assertValid(doc, `render ${type}${extra}`);
      assert.ok(doc.flamebearer.numTicks > 0, `${type}: empty flame graph`);
      assert.ok(doc.timeline.samples.some((v) => v > 0), `${type}: empty timeline`);
      if (extra === '') full = nodes(doc);
      // Nodes tied with the 16th largest total are kept too (as Pyroscope does), so the
      // count can exceed 16 a little; a large graph must shrink.
      if (extra === '&max-nodes=16' && full > 64) {
        assert.ok(nodes(doc) < 32, `${type}: max-nodes ignored (${nodes(doc)} of ${full} nodes)`);
        shrunk++;
      }
    }
  }
  assert.ok(shrunk >= 4, `only ${shrunk} profile types were large enough to check max-nodes`);
});

test('render-diff answers are valid double-format flamebearer with both sides counted', async () => {
  const type = 'process_cpu:cpu:nanoseconds:cpu:nanoseconds';
  const left = await getJson(`/pyroscope/render?${new URLSearchParams({ query: `${type}{service_name="go_cpu"}`, ...RANGE })}`);
  const right = await getJson(`/pyroscope/render?${new URLSearchParams({ query: `${type}{}`, ...RANGE })}`);
  const q = new URLSearchParams({
    leftQuery: `${type}{service_name="go_cpu"}`, leftFrom: RANGE.from, leftUntil: RANGE.until,
    rightQuery: `${type}{}`, rightFrom: RANGE.from, rightUntil: RANGE.until });
  const diff = await getJson(`/pyroscope/render-diff?${q}`);
  assert.equal(diff.metadata.format, 'double');
  assertValid(diff, 'render-diff');
  assert.equal(diff.flamebearer.numTicks, left.flamebearer.numTicks + right.flamebearer.numTicks);
  assert.equal(diff.leftTicks, left.flamebearer.numTicks);
  assert.equal(diff.rightTicks, right.flamebearer.numTicks);
});

test('the checker rejects what the UI would reject', () => {
  // A test that cannot fail is a defect: break a valid document in the two ways that matter.
  const doc = { version: 1, flamebearer: { names: ['total', 'a'], levels: [[0, 10, 0, 0], [0, 12, 12, 1]],
    numTicks: 10, maxSelf: 12 }, metadata: { format: 'single', sampleRate: 100, spyName: '', units: 'samples' },
  timeline: { startTime: 0, samples: [10], durationDelta: 10 }, groups: {}, heatmap: null };
  const problems = flamebearerProblems(doc);
  assert.ok(problems.some((p) => /no parent/.test(p)), `nesting not checked: ${problems}`);
  delete doc.metadata.sampleRate;
  assert.ok(flamebearerProblems(doc).some((p) => /schema/.test(p)), 'schema not checked');
});
