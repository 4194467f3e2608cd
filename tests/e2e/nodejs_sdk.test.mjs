// End to end with a real agent: the current @pyroscope/nodejs from npm profiles a CPU-burning
// Node program against a running fornax for about 20 s; the burning function must be the top
// self frame of the CPU flame graph, and the SDK's uploads must all have been accepted.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';

import { Fornax, ROOT } from './lib/fornax.mjs';

const APP = 'nodejs-e2e-burner';
const CPU = 'process_cpu:cpu:nanoseconds:wall:nanoseconds';
let fornax;

// Decodes FlameGraph levels (reference §3.1) into per-name self totals.
function selfByName(fg) {
  const self = new Map();
  for (const lv of fg.levels) {
    const v = (lv.values || []).map(Number);
    for (let i = 0; i < v.length; i += 4) {
      const name = fg.names[v[i + 3]];
      self.set(name, (self.get(name) || 0) + v[i + 2]);
    }
  }
  return [...self.entries()].sort((a, b) => b[1] - a[1]);
}

describe('Pyroscope Node.js SDK', () => {
  before(async () => { fornax = await Fornax.start({ name: 'nodejs-sdk' }); });
  after(async () => { if (fornax) await fornax.stop(); });

  it('profiles a CPU burner; the burning function is the top self frame', { timeout: 90000 }, async () => {
    const started = Date.now();
    const child = spawn(process.execPath, [path.join(ROOT, 'tests/e2e/nodejs/burner.cjs'), fornax.url, APP, '20'], {
      stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DEBUG: 'pyroscope' },
    });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    const code = await new Promise((resolve) => child.on('exit', resolve));
    assert.equal(code, 0, `burner failed:\n${out}`);

    const range = { start: started - 60000, end: Date.now() + 60000 };
    const types = (await fornax.rpc('ProfileTypes', range)).profileTypes.map((t) => t.ID);
    assert.ok(types.includes(CPU), `profile types: ${types}`);
    const fg = await fornax.until(async () => {
      const r = await fornax.rpc('SelectMergeStacktraces', {
        profileTypeID: CPU, labelSelector: `{service_name="${APP}"}`, ...range,
      });
      return r.flamegraph && Number(r.flamegraph.total) > 10e9 ? r.flamegraph : null; // > 10 s of CPU
    }, 'CPU samples from the SDK');
    const top = selfByName(fg);
    assert.match(top[0][0], /burnCpuHotLoop/, `top self frames: ${JSON.stringify(top.slice(0, 5))}`);
    // The SDK's own tags and the heap profile arrived too.
    const tags = await fornax.rpc('LabelValues', { name: 'e2e', matchers: [`{service_name="${APP}"}`], ...range });
    assert.deepEqual(tags.names, ['nodejs-sdk']);
    assert.ok(types.some((t) => t.startsWith('memory:inuse_space:bytes')), `profile types: ${types}`);
    // No upload was refused: the SDK logs non-2xx answers under DEBUG=pyroscope.
    assert.doesNotMatch(out, /status(Code)?[ :=]+[45]\d\d/i, out);
  });
});
