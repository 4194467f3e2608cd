// check_flamebearer.mjs - validates flamebearer JSON files (e.g. the ones test_flamebearer
// writes with FX_FLAMEBEARER_DUMP=dir) with the checks of tests/e2e/lib/flamebearer_check.mjs
// (@pyroscope/models' schema and decoder, Pyroscope's Validate(), bar nesting).
//
//   (cd tests/e2e && npm ci)
//   FX_FLAMEBEARER_DUMP=/tmp/fbdump build/san/tests/test_flamebearer
//   node tests/tools/check_flamebearer.mjs /tmp/fbdump/*.json
import { readFileSync } from 'node:fs';
import { flamebearerProblems } from '../e2e/lib/flamebearer_check.mjs';

let failed = 0;
for (const file of process.argv.slice(2)) {
  const problems = flamebearerProblems(JSON.parse(readFileSync(file, 'utf8')));
  if (problems.length) {
    failed++;
    console.log(`FAIL ${file}\n  ${problems.slice(0, 10).join('\n  ')}`);
  } else {
    console.log(`ok   ${file}`);
  }
}
console.log(`${process.argv.length - 2 - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
