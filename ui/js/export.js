// Exports of what is on screen: pprof (.pb.gz, from SelectMergeProfile, gzipped in the
// browser), flamebearer JSON, folded text and a PNG of the flame graph canvas.

import { download } from './dom.js';
import { rpcProto, encodeSelectMergeProfile } from './api.js';
import { toFlamebearer } from './flamedata.js';
import { parseProfileType } from './format.js';

// Units and sample rate as Pyroscope's /render reports them (pyroscope-api.md §6.2).
export function flamebearerMeta(typeId) {
  const t = parseProfileType(typeId);
  if (t.sampleType === 'cpu') return { units: 'samples', sampleRate: 1e9, name: t.sampleType };
  if (/^(inuse_objects|alloc_objects|goroutine|goroutines|samples)$/.test(t.sampleType)) return { units: 'objects', sampleRate: 100, name: t.sampleType };
  return { units: t.sampleUnit || 'samples', sampleRate: 100, name: t.sampleType };
}

// "checkout-process_cpu-cpu-20240501-1000"
export function baseName(typeId, selector, start) {
  const t = parseProfileType(typeId);
  const m = /service_name\s*=\s*"([^"]*)"/.exec(selector || '');
  const d = new Date(start || Date.now());
  const p = (n) => String(n).padStart(2, '0');
  const stamp = `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}`;
  return [m ? m[1] : 'profile', t.name, t.sampleType, stamp].filter(Boolean).join('-').replace(/[^\w.-]+/g, '_');
}

async function gzip(bytes) {
  const cs = new CompressionStream('gzip');
  const out = new Response(new Blob([bytes]).stream().pipeThrough(cs));
  return new Uint8Array(await out.arrayBuffer());
}

export async function exportPprof(q, name) {
  const raw = await rpcProto('SelectMergeProfile', encodeSelectMergeProfile(q));
  download(new Blob([await gzip(raw)], { type: 'application/gzip' }), `${name}.pb.gz`);
}

export function exportFlamebearer(data, typeId, name) {
  const json = JSON.stringify(toFlamebearer(data, flamebearerMeta(typeId)));
  download(new Blob([json], { type: 'application/json' }), `${name}.json`);
}

export function exportFolded(data, name) {
  download(new Blob([data.toFolded()], { type: 'text/plain' }), `${name}.folded.txt`);
}

export async function exportPNG(flame, name) {
  const blob = await flame.toPNG();
  if (blob) download(blob, `${name}.png`);
}
