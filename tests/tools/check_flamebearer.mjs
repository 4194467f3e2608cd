// check_flamebearer.mjs - validates flamebearer JSON documents written by
// test_flamebearer (FX_FLAMEBEARER_DUMP=dir) against the real consumer:
// @pyroscope/models' FlamebearerProfileSchema and decodeFlamebearer, plus the
// checks Pyroscope's Go Validate() does and the nesting the renderer needs.
//
//   mkdir -p /tmp/fbcheck && cd /tmp/fbcheck && npm install @pyroscope/models zod
//   FX_FLAMEBEARER_DUMP=/tmp/fbdump build/san/tests/test_flamebearer
//   NODE_PATH=/tmp/fbcheck/node_modules node tests/tools/check_flamebearer.mjs /tmp/fbdump/*.json
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import path from 'node:path';

const require = createRequire(path.join(process.env.NODE_PATH || '.', 'x.js'));
const models = require('@pyroscope/models');

let failed = 0;
for (const file of process.argv.slice(2)) {
  const problems = [];
  const doc = JSON.parse(readFileSync(file, 'utf8'));
  const parsed = models.FlamebearerProfileSchema.safeParse(doc);
  if (!parsed.success) problems.push(`schema: ${parsed.error.message}`);
  for (const key of ['timeline', 'groups', 'heatmap']) {
    if (!(key in doc)) problems.push(`missing "${key}"`);
  }
  if (doc.timeline) {
    const t = models.GroupsSchema.safeParse({ t: doc.timeline });
    if (!t.success) problems.push(`timeline: ${t.error.message}`);
  }
  if (doc.groups) {
    const g = models.GroupsSchema.safeParse(doc.groups);
    if (!g.success) problems.push(`groups: ${g.error.message}`);
  }
  const double = doc.metadata.format === 'double';
  const width = double ? 7 : 4;
  const fb = models.decodeFlamebearer(JSON.parse(JSON.stringify(doc))).flamebearer;
  fb.levels.forEach((level, d) => {
    if (level.length % width) problems.push(`level ${d}: ${level.length} values`);
    for (let i = width - 1; i < level.length; i += width) {
      if (level[i] < 0 || level[i] >= fb.names.length) problems.push(`level ${d}: bad name ${level[i]}`);
    }
    if (d === 0) return;
    // Every bar must lie inside a bar of the level above, on each side.
    for (const col of double ? [0, 3] : [0]) {
      const parents = fb.levels[d - 1];
      for (let i = col; i < level.length; i += width) {
        const x = level[i], end = x + level[i + 1];
        if (level[i + 1] === 0) continue;
        let ok = false;
        for (let j = col; j < parents.length; j += width) {
          if (parents[j] <= x && end <= parents[j] + parents[j + 1]) { ok = true; break; }
        }
        if (!ok) problems.push(`level ${d} col ${col}: bar at ${x} has no parent`);
      }
    }
  });
  const root = fb.levels[0];
  const total = double ? root[1] + root[4] : root[1];
  if (total !== doc.flamebearer.numTicks) problems.push(`numTicks ${doc.flamebearer.numTicks} != root ${total}`);
  if (problems.length) {
    failed++;
    console.log(`FAIL ${file}\n  ${problems.slice(0, 10).join('\n  ')}`);
  } else {
    console.log(`ok   ${file}`);
  }
}
console.log(`${process.argv.length - 2 - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
