// Time range expressions ("now-1h", "now", ms, ISO dates), their labels, and timeline steps.

const UNIT_MS = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 7 * 86400e3, M: 30 * 86400e3, y: 365 * 86400e3 };
const UNIT_NAME = { s: 'second', m: 'minute', h: 'hour', d: 'day', w: 'week', M: 'month', y: 'year' };

export const PRESETS = [
  ['now-5m', 'Last 5 minutes'], ['now-15m', 'Last 15 minutes'], ['now-30m', 'Last 30 minutes'],
  ['now-1h', 'Last 1 hour'], ['now-3h', 'Last 3 hours'], ['now-6h', 'Last 6 hours'],
  ['now-12h', 'Last 12 hours'], ['now-24h', 'Last 24 hours'], ['now-2d', 'Last 2 days'],
  ['now-7d', 'Last 7 days'], ['now-30d', 'Last 30 days'],
];

// Parse one time expression into ms since epoch; NaN when it is not understood.
export function parseTime(expr, now = Date.now()) {
  const s = String(expr ?? '').trim();
  if (s === '' ) return NaN;
  if (s === 'now') return now;
  let m = /^now\s*-\s*(\d+)\s*([smhdwMy])$/.exec(s);
  if (m) return now - Number(m[1]) * UNIT_MS[m[2]];
  if (/^\d+(\.\d+)?$/.test(s)) {
    const n = Number(s);
    const digits = s.split('.')[0].length;
    return Math.round(digits >= 12 ? n : n * 1000); // 13-digit ms, else unix seconds
  }
  // "YYYY-MM-DD HH:MM[:SS]" is local time; Date.parse needs a "T".
  const iso = /^\d{4}-\d{2}-\d{2} \d/.test(s) ? s.replace(' ', 'T') : s;
  const t = Date.parse(iso);
  return isFinite(t) ? t : NaN;
}

// Resolve a from/until pair; throws a user-facing Error when invalid.
export function resolveRange(from, until, now = Date.now()) {
  const start = parseTime(from, now), end = parseTime(until, now);
  if (!isFinite(start)) throw new Error(`Cannot read the start time "${from}" (try now-1h or 2024-05-01 10:00).`);
  if (!isFinite(end)) throw new Error(`Cannot read the end time "${until}" (try now or 2024-05-01 11:00).`);
  if (end <= start) throw new Error('The end of the time range must be after its start.');
  return [Math.round(start), Math.round(end)];
}

const pad = (n) => String(n).padStart(2, '0');
export function formatDateTime(ms, withSeconds = false) {
  const d = new Date(ms);
  const s = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
  return withSeconds ? `${s}:${pad(d.getSeconds())}` : s;
}

// A human label for a range: "Last 1 hour" or "2024-05-01 10:00 → 11:00".
export function rangeLabel(from, until) {
  const preset = PRESETS.find(([f]) => f === from);
  if (until === 'now' && preset) return preset[1];
  const m = /^now-(\d+)([smhdwMy])$/.exec(from);
  if (until === 'now' && m) return `Last ${m[1]} ${UNIT_NAME[m[2]]}${m[1] === '1' ? '' : 's'}`;
  const a = parseTime(from), b = parseTime(until);
  if (!isFinite(a) || !isFinite(b)) return `${from} → ${until}`;
  const fa = formatDateTime(a, true), fb = formatDateTime(b, true);
  return fa.slice(0, 10) === fb.slice(0, 10) ? `${fa} → ${fb.slice(11)}` : `${fa} → ${fb}`;
}

const NICE_STEPS = [10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800];
// SelectSeries step in seconds for a range drawn `points` wide.
export function autoStep(start, end, points = 300) {
  const raw = (end - start) / 1000 / Math.max(1, points);
  return NICE_STEPS.find((s) => s >= raw) ?? Math.ceil(raw / 86400) * 86400;
}

// Tick positions (ms) for a time axis: about `count` round instants.
const TICK_STEPS = [1e3, 5e3, 15e3, 30e3, 60e3, 300e3, 900e3, 1800e3, 3600e3, 3 * 3600e3, 6 * 3600e3, 12 * 3600e3, 86400e3, 7 * 86400e3];
export function timeTicks(start, end, count = 6) {
  const want = (end - start) / Math.max(1, count);
  const step = TICK_STEPS.find((s) => s >= want) ?? want;
  const tz = new Date(start).getTimezoneOffset() * 60e3; // round in local time
  const out = [];
  for (let t = Math.ceil((start - tz) / step) * step + tz; t <= end; t += step) out.push(t);
  return { ticks: out, step };
}

export function tickLabel(ms, step) {
  const d = new Date(ms);
  if (step >= 86400e3) return `${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  if (step < 60e3) return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
