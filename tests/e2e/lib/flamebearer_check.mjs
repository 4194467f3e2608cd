// flamebearer_check.mjs - what the real consumers of flamebearer JSON require of it:
// @pyroscope/models' FlamebearerProfileSchema and decodeFlamebearer (the Pyroscope UI's
// parser), the checks Pyroscope's Go Validate() does, and the nesting the renderer needs
// (every bar inside a bar of the level above). Used by tests/e2e/render_flamebearer.test.mjs
// and by tests/tools/check_flamebearer.mjs.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const models = require('@pyroscope/models');

// Returns a list of problems with doc (a parsed /pyroscope/render or render-diff answer);
// empty when the document is valid.
export function flamebearerProblems(doc) {
  const problems = [];
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
  return problems;
}
