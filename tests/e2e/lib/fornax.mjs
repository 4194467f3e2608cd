// Start and stop a real `fornax -target=all` for end-to-end tests: free ports, a temporary
// data directory, a log file, readiness polling, and pushes through the /ingest API.
// The process is stopped by its PID (SIGTERM, then SIGKILL after a grace period).

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const FIXTURES = process.env.FORNAX_FIXTURES || path.resolve(ROOT, '../shared/fixtures');
const BIN_DIR = process.env.FORNAX_BIN || path.join(ROOT, 'build/bin');

// Extra server flags for tests, in one place. Text pushes carry from/until near "now", but a
// pprof keeps its own timestamp and the shared fixtures were captured long ago, so the
// ingestion age limit (docs/configuration.md, default 1h) is switched off (0 = no limit).
// FORNAX_EXTRA_FLAGS (space-separated) replaces these.
export const EXTRA_FLAGS = (process.env.FORNAX_EXTRA_FLAGS ?? '-validation.reject-older-than=0 -ingester.max-block-duration=0 -querier.query-store-after=0').split(/\s+/).filter(Boolean);

export function fornaxPath() {
  return path.join(BIN_DIR, 'fornax');
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export class Fornax {
  // Start fornax; resolves once GET /ready answers 200.
  static async start({ flags = [], name = 'fornax' } = {}) {
    const bin = fornaxPath();
    if (!fs.existsSync(bin)) throw new Error(`${bin} not found: build it with "make" (or set FORNAX_BIN)`);
    const f = new Fornax();
    f.port = await freePort();
    f.grpcPort = await freePort();
    f.dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fornax-e2e-'));
    const logDir = path.join(ROOT, 'build/e2e-logs');
    fs.mkdirSync(logDir, { recursive: true });
    f.logPath = path.join(logDir, `${name}-${f.port}.log`);
    const log = fs.openSync(f.logPath, 'w');
    const args = ['-target=all', `-server.http-listen-port=${f.port}`, `-server.grpc-listen-port=${f.grpcPort}`,
      `-data-dir=${f.dataDir}`, ...EXTRA_FLAGS, ...flags];
    f.proc = spawn(bin, args, { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    f.exited = new Promise((resolve) => f.proc.on('exit', (code, sig) => resolve({ code, sig })));
    f.url = `http://127.0.0.1:${f.port}`;
    const deadline = Date.now() + 30000;
    for (;;) {
      if (f.proc.exitCode !== null) throw new Error(`fornax exited early (code ${f.proc.exitCode}); log:\n${f.logTail()}`);
      try {
        const r = await fetch(`${f.url}/ready`);
        if (r.status === 200) break;
      } catch { /* not listening yet */ }
      if (Date.now() > deadline) { await f.stop(); throw new Error(`fornax not ready after 30 s; log:\n${f.logTail()}`); }
      await sleep(200);
    }
    return f;
  }

  logTail(n = 40) {
    try { return fs.readFileSync(this.logPath, 'utf8').split('\n').slice(-n).join('\n'); } catch { return ''; }
  }

  // POST /ingest?name=...&from=...&until=... with a body (folded text or pprof bytes).
  async ingest(params, body) {
    const q = new URLSearchParams(params);
    const r = await fetch(`${this.url}/ingest?${q}`, { method: 'POST', body });
    if (!r.ok) throw new Error(`ingest ${q} -> ${r.status}: ${await r.text()}`);
  }

  async rpc(method, req) {
    const r = await fetch(`${this.url}/querier.v1.QuerierService/${method}`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(req),
    });
    if (!r.ok) throw new Error(`${method} -> ${r.status}: ${await r.text()}`);
    return r.json();
  }

  // Poll until fn() returns a truthy value (queries see pushed data), or fail after ms.
  async until(fn, what, ms = 20000) {
    const deadline = Date.now() + ms;
    let last;
    for (;;) {
      try { const v = await fn(); if (v) return v; } catch (e) { last = e; }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
      await sleep(250);
    }
  }

  // Stop by PID: SIGTERM, SIGKILL after 10 s; remove the data directory.
  async stop() {
    if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) {
      process.kill(this.proc.pid, 'SIGTERM');
      const t = setTimeout(() => { try { process.kill(this.proc.pid, 'SIGKILL'); } catch { /* gone */ } }, 10000);
      await this.exited;
      clearTimeout(t);
    }
    if (this.dataDir) fs.rmSync(this.dataDir, { recursive: true, force: true });
  }
}
