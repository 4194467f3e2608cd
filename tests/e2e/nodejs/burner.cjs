// burner.cjs - a CPU-burning Node program profiled by the real Pyroscope SDK
// (@pyroscope/nodejs from npm). Usage: node burner.cjs <server url> <app name> <seconds>
'use strict';
const Pyroscope = require('@pyroscope/nodejs');

const [, , serverAddress, appName, seconds] = process.argv;

// The function the test expects at the top of the self-time table: a tight
// loop that never calls anything.
function burnCpuHotLoop(ms) {
  const end = Date.now() + ms;
  let x = 0;
  while (Date.now() < end) {
    for (let i = 0; i < 100000; i++) x = (x * 1103515245 + 12345) & 0x7fffffff;
  }
  return x;
}

function idleALittle(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

async function main() {
  Pyroscope.init({
    serverAddress,
    appName,
    flushIntervalMs: 5000,
    tags: { e2e: 'nodejs-sdk' },
    wall: { collectCpuTime: true, samplingDurationMs: 5000 },
  });
  Pyroscope.start();
  const end = Date.now() + Number(seconds) * 1000;
  let sink = 0;
  while (Date.now() < end) {
    sink ^= burnCpuHotLoop(200);
    await idleALittle(5);
  }
  await Pyroscope.stop();
  process.stdout.write(`done ${sink}\n`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
