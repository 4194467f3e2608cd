// The whole UI state lives in the URL hash (#view=diff&query=...), so links are shareable
// and back/forward work. This module parses and serialises it; main.js owns navigation.

export const DEFAULTS = Object.freeze({
  view: 'single', // single | comparison | diff | tags
  query: '', // profile type ID
  sel: '{}', // label selector
  from: 'now-1h',
  until: 'now',
  display: 'both', // both | flame | table | sandwich
  search: '',
  focus: '', // ';'-joined frame names from the root to the focused bar
  fn: '', // sandwich function
  lsel: '', lfrom: '', luntil: '', lfocus: '', // baseline / left pane ('' = defaults)
  rsel: '', rfrom: '', runtil: '', rfocus: '', // comparison / right pane
  groupBy: '', gv: '', // tag explorer
  maxNodes: '',
  collapse: '', // 'off' shows every frame; by default single-child chains are folded
  color: '', // 'self' colours flame graphs by self time instead of by package
  explain: '', // '1' when the explain panel is open
});

const KEYS = Object.keys(DEFAULTS);
const VIEWS = ['single', 'comparison', 'diff', 'tags'];
const DISPLAYS = ['both', 'flame', 'table', 'sandwich'];

export function parseState(hash) {
  const p = new URLSearchParams(String(hash || '').replace(/^#/, ''));
  const s = { ...DEFAULTS };
  for (const k of KEYS) if (p.has(k)) s[k] = p.get(k);
  if (!VIEWS.includes(s.view)) s.view = DEFAULTS.view;
  if (!DISPLAYS.includes(s.display)) s.display = DEFAULTS.display;
  if (!s.sel.trim()) s.sel = '{}';
  return s;
}

export function stateToHash(s) {
  const p = new URLSearchParams();
  for (const k of KEYS) if (s[k] !== undefined && s[k] !== DEFAULTS[k] && s[k] !== '') p.set(k, s[k]);
  const q = p.toString();
  return q ? `#${q}` : '#';
}

export const splitPath = (s) => (s ? s.split(';') : []);

// Add or replace label="value" inside a selector: addMatcher('{a="b"}', 'pod', 'x');
// op may be '!=', '=~' or '!~' (value is then a regular expression).
export function addMatcher(sel, name, value, op = '=') {
  const inner = String(sel || '{}').trim().replace(/^\{/, '').replace(/\}$/, '').trim();
  const q = `${name}${op}"${String(value).replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  const parts = inner ? splitMatchers(inner).filter((m) => !new RegExp(`^\\s*${name}\\s*(=|!=|=~|!~)`).test(m)) : [];
  parts.push(q);
  return `{${parts.map((m) => m.trim()).join(', ')}}`;
}

// A selector for every value of a label except the given ones (the tag explorer's
// "Other"): name!~"v1|v2|…" with each value matched literally. A series without the
// label has the value "" and stays excluded only when "" is listed.
export function exceptValues(sel, name, values) {
  const re = values.map((v) => String(v).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|');
  return addMatcher(sel, name, re, '!~');
}

// Split "a="x,y", b=~"z"" on top-level commas (commas inside quotes stay).
export function splitMatchers(inner) {
  const out = [];
  let cur = '', quoted = false;
  for (let i = 0; i < inner.length; i++) {
    const ch = inner[i];
    if (ch === '\\' && quoted) { cur += ch + (inner[++i] ?? ''); continue; }
    if (ch === '"') quoted = !quoted;
    if (ch === ',' && !quoted) { if (cur.trim()) out.push(cur); cur = ''; continue; }
    cur += ch;
  }
  if (cur.trim()) out.push(cur);
  return out;
}
