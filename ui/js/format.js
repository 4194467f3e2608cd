// Value formatting by sample unit (ns -> ms/s, bytes -> KiB/MiB, counts) and percentages.

// Parse a profile type ID "<name>:<sample_type>:<sample_unit>:<period_type>:<period_unit>".
export function parseProfileType(id) {
  const p = String(id || '').split(':');
  return { id, name: p[0] || '', sampleType: p[1] || '', sampleUnit: p[2] || '', periodType: p[3] || '', periodUnit: p[4] || '' };
}

// Map a pprof sample unit onto one of the three families the UI formats.
export function unitFamily(unit) {
  const u = String(unit || '').toLowerCase();
  if (u === 'nanoseconds' || u === 'ns') return 'ns';
  if (u === 'microseconds') return 'us';
  if (u === 'milliseconds') return 'ms';
  if (u === 'seconds') return 's';
  if (u === 'bytes' || u === 'byte') return 'bytes';
  return 'count';
}

function num(v, digits) {
  const a = Math.abs(v);
  const d = digits ?? (a >= 100 ? 0 : a >= 10 ? 1 : 2);
  return v.toFixed(d).replace(/\.0+$/, '').replace(/(\.\d*?)0+$/, '$1');
}

export function formatDuration(ns) {
  const a = Math.abs(ns);
  if (a < 1e3) return `${num(ns, 0)} ns`;
  if (a < 1e6) return `${num(ns / 1e3)} µs`;
  if (a < 1e9) return `${num(ns / 1e6)} ms`;
  if (a < 60e9) return `${num(ns / 1e9)} s`;
  if (a < 3600e9) return `${num(ns / 60e9)} min`;
  if (a < 86400e9) return `${num(ns / 3600e9)} h`;
  return `${num(ns / 86400e9)} d`;
}

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
export function formatBytes(b) {
  let v = b, i = 0;
  while (Math.abs(v) >= 1024 && i < BYTE_UNITS.length - 1) { v /= 1024; i++; }
  return `${num(v, i === 0 ? 0 : undefined)} ${BYTE_UNITS[i]}`;
}

const COUNT_UNITS = ['', 'K', 'M', 'G', 'T', 'P'];
export function formatCount(c) {
  if (Math.abs(c) < 10000) return String(Math.round(c));
  let v = c, i = 0;
  while (Math.abs(v) >= 1000 && i < COUNT_UNITS.length - 1) { v /= 1000; i++; }
  return `${num(v)} ${COUNT_UNITS[i]}`;
}

// A formatter for one sample unit: (value) -> string.
export function formatter(unit) {
  switch (unitFamily(unit)) {
    case 'ns': return formatDuration;
    case 'us': return (v) => formatDuration(v * 1e3);
    case 'ms': return (v) => formatDuration(v * 1e6);
    case 's': return (v) => formatDuration(v * 1e9);
    case 'bytes': return formatBytes;
    default: return formatCount;
  }
}

export function formatPercent(share) {
  if (!isFinite(share)) return '–';
  const p = share * 100;
  if (p === 0) return '0%';
  if (Math.abs(p) < 0.01) return '<0.01%';
  return `${p.toFixed(Math.abs(p) >= 10 ? 1 : 2)}%`;
}

// A change of share in percentage points: 0.384 -> "+38.4 pp".
export function formatPoints(delta) {
  if (!isFinite(delta)) return '–';
  const p = delta * 100;
  if (Math.abs(p) < 0.005) return '0 pp';
  return `${p > 0 ? '+' : '−'}${Math.abs(p).toFixed(Math.abs(p) >= 10 ? 1 : 2)} pp`;
}

// A signed change in percent (already in percent units): "+12.3%", "-4%".
export function formatChange(pct) {
  if (!isFinite(pct)) return '–';
  const s = pct > 0 ? '+' : '';
  return `${s}${pct.toFixed(Math.abs(pct) >= 10 ? 0 : 1)}%`;
}
