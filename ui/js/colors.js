// Flame graph colours: a palette indexed by a hash of the frame's package (found with
// language-aware rules), the diff scale (red grew, grey same, green shrank) and theme colours.

export const PALETTE_SIZE = 24;

// The "package" of a frame name, so that one library gets one colour. Rules, in order:
// perf kernel/versioned suffixes are dropped; Python and JS frames group by file (npm
// frames by package); C++/Rust/Ruby by the first "::" segment; Go and JVM by the import
// path or class path; plain C symbols by their first "_"-separated word.
export function packageOf(name) {
  let s = String(name);
  s = s.replace(/_\[[kj]\]$/, '').replace(/@@?[A-Za-z0-9_.]+$/, '');
  let m;
  if ((m = /(?:^|[\s(:])((?:[\w.-]*\/)*)([\w.-]+\.py)\b/.exec(s))) return m[1] + m[2];
  if ((m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(s))) return m[1];
  if (/^node:/.test(s)) return 'node:' + (s.slice(5).split(/[/:]/)[0] || '');
  if ((m = /((?:[\w.@-]*\/)*[\w.@-]+\.(?:m?js|cjs|ts|tsx|jsx))\b/.exec(s.replace('file://', '')))) return m[1];
  if (s.includes('::')) return s.replace(/^[<&*\s]+/, '').split('::')[0].replace(/^(?:dyn|impl)\s+/, '');
  const slash = s.lastIndexOf('/', s.indexOf('(') >= 0 ? s.indexOf('(') : s.length);
  if (slash >= 0) {
    // JVM classes are capitalised (java/util/HashMap.get -> java/util); Go packages are not
    if (/[A-Z]/.test(s[slash + 1] || '')) return s.slice(0, slash);
    const dot = s.indexOf('.', slash);
    return dot > 0 ? s.slice(0, dot) : s.slice(0, slash);
  }
  if (s.includes('.')) {
    const parts = s.split('.');
    // JVM/.NET style a.b.Class.method: the namespace before the first capitalised part
    const cls = parts.findIndex((p) => /^[A-Z]/.test(p));
    if (cls > 1) return parts.slice(0, cls).join('.');
    return parts[0];
  }
  const c = s.replace(/^_+/, '');
  const us = c.indexOf('_');
  return us >= 2 ? c.slice(0, us) : c;
}

function fnv1a(s) {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) { h ^= s.charCodeAt(i); h = Math.imul(h, 0x01000193); }
  return h >>> 0;
}

export function paletteIndex(name) {
  return fnv1a(packageOf(name)) % PALETTE_SIZE;
}

// Warm-to-cool hues spread so neighbouring indices differ; two lightness sets per theme.
const HUES = Array.from({ length: PALETTE_SIZE }, (_, i) => (i * 137.508 + 20) % 360);
export function palette(theme) {
  return HUES.map((h, i) => theme === 'dark'
    ? `hsl(${h.toFixed(0)} ${45 + (i % 3) * 8}% ${34 + (i % 4) * 4}%)`
    : `hsl(${h.toFixed(0)} ${62 + (i % 3) * 8}% ${70 + (i % 4) * 3}%)`);
}

// "Colour by self time": bucket 0 (no self time) is a neutral pale colour, then pale
// yellow to deep red as a frame's self time nears the largest self time in the profile,
// so the frames doing the work stand out whatever their package.
export function heatBucket(self, maxSelf) {
  if (!(self > 0) || !(maxSelf > 0)) return 0;
  return Math.max(1, Math.min(PALETTE_SIZE - 1, Math.ceil((PALETTE_SIZE - 1) * (self / maxSelf))));
}
export function heatColor(k, theme) {
  if (k === 0) return theme === 'dark' ? 'hsl(40 8% 30%)' : 'hsl(40 14% 86%)';
  const t = k / (PALETTE_SIZE - 1), hue = (55 - 55 * t).toFixed(0);
  return theme === 'dark' ? `hsl(${hue} 75% ${(28 + 16 * t).toFixed(0)}%)` : `hsl(${hue} ${(80 + 10 * t).toFixed(0)}% ${(80 - 32 * t).toFixed(0)}%)`;
}

// Diff colours per grafana-client.md §5: linear over [-100, 0, +100] between green,
// grey and red (colour-blind: blue, grey, red). Buckets keep the canvas fill-style count low.
export const DIFF_BUCKETS = 21; // -100, -90, ... 0 ... +90, +100
const GREEN = [0, 170, 0], GREY = [148, 142, 142], RED = [200, 0, 0];
const BLUE = [26, 133, 255], CB_RED = [220, 50, 32];
export function diffBucket(pct) {
  const b = Math.round(Math.max(-100, Math.min(100, pct)) / 10);
  return b + 10;
}
export function diffColor(bucket, colorBlind) {
  const p = (bucket - 10) / 10; // -1..1
  const lo = colorBlind ? BLUE : GREEN, hi = colorBlind ? CB_RED : RED;
  const [a, b, t] = p < 0 ? [GREY, lo, -p] : [GREY, hi, p];
  const c = a.map((v, i) => Math.round(v + (b[i] - v) * t));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}
export function diffClass(pct) {
  if (pct > 0.5) return 'grew';
  if (pct < -0.5) return 'shrank';
  return 'same';
}

// Colours read from CSS custom properties so the canvas follows the theme.
export function themeColors(el) {
  const cs = getComputedStyle(el || document.documentElement);
  const v = (k, d) => (cs.getPropertyValue(k).trim() || d);
  return {
    theme: document.documentElement.dataset.theme === 'dark' ? 'dark' : 'light',
    bg: v('--fg-bg', '#fff'),
    text: v('--fg-text', '#111'),
    textOnDiff: v('--fg-text-diff', '#fff'),
    dim: v('--fg-dim', '#e3e3e6'),
    dimText: v('--fg-dim-text', '#999'),
    root: v('--fg-root', '#b9bec9'),
    other: v('--fg-other', '#c9c9c9'),
    outline: v('--fg-outline', '#000'),
    mark: v('--fg-mark', '#ff00aa'),
    focus: v('--accent', '#3b6fe0'),
  };
}
