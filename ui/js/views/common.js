// Pieces shared by the views: search box, segmented buttons, export menu, diff legend,
// the per-side controls of the comparison and diff views, and query helpers.

import { h, dismissable, placeBelow } from '../dom.js';
import { rpc } from '../api.js';
import { SelectorInput, TimePicker } from '../querybar.js';
import { Timeline, seriesPoints } from '../timeline.js';
import { resolveRange, autoStep } from '../time.js';
import { formatPercent } from '../format.js';
import { diffColor } from '../colors.js';

export class SearchBox {
  // opts: value, onChange(q) (debounced), testid
  constructor(host, opts) {
    this.opts = opts;
    this.input = h('input', {
      type: 'search', class: 'search-input', placeholder: 'Search functions  ( / )', value: opts.value || '',
      'aria-label': 'Search functions (text, or /regex/)', 'data-testid': opts.testid || 'search', spellcheck: 'false',
    });
    this.summary = h('span', { class: 'search-summary muted', 'data-testid': 'search-summary', 'aria-live': 'polite' });
    this.el = h('div', { class: 'search' }, this.input, this.summary);
    host.append(this.el);
    let t = 0;
    this.input.addEventListener('input', () => { clearTimeout(t); t = setTimeout(() => opts.onChange(this.input.value), 200); });
    this.input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') { clearTimeout(t); opts.onChange(this.input.value); }
      if (e.key === 'Escape' && this.input.value) { e.stopPropagation(); this.input.value = ''; clearTimeout(t); opts.onChange(''); }
    });
  }

  set value(v) { if (document.activeElement !== this.input) this.input.value = v || ''; }

  // r: {count, share, lShare, rShare, error} from FlameGraph.setSearch
  show(r, kind) {
    if (!r || (!r.count && !r.error && !this.input.value.trim())) { this.summary.textContent = ''; return; }
    if (r.error) { this.summary.textContent = r.error; this.summary.classList.add('err'); return; }
    this.summary.classList.remove('err');
    if (!r.count) { this.summary.textContent = 'no matches'; return; }
    this.summary.textContent = kind === 'diff'
      ? `${r.count} match${r.count === 1 ? '' : 'es'} · baseline ${formatPercent(r.lShare)} → comparison ${formatPercent(r.rShare)}`
      : `${r.count} match${r.count === 1 ? '' : 'es'} · ${formatPercent(r.share)} of total`;
  }
}

// Radio-like button group. items: [[value, label]]
export function segmented(items, value, onPick, testid) {
  const el = h('div', { class: 'seg', role: 'group', 'data-testid': testid });
  const set = (v) => { for (const b of el.children) b.setAttribute('aria-pressed', b.dataset.value === v ? 'true' : 'false'); };
  for (const [v, label] of items) {
    el.append(h('button', { type: 'button', 'data-value': v, text: label, onclick: () => onPick(v) }));
  }
  set(value);
  el.setValue = set;
  return el;
}

// A drop-down menu button. items: [[testid, label, fn]]
export function menuButton(label, items, testid) {
  const btn = h('button', { type: 'button', class: 'btn', 'aria-haspopup': 'menu', 'data-testid': testid, text: label });
  let pop = null, undo = null;
  const close = () => { if (pop) { undo(); pop.remove(); pop = null; } };
  btn.addEventListener('click', () => {
    if (pop) { close(); return; }
    pop = h('div', { class: 'menu-pop', role: 'menu' }, items().map(([id, text, fn]) => h('button', {
      type: 'button', role: 'menuitem', 'data-testid': id, text,
      onclick: async () => { close(); try { await fn(); } catch (e) { document.dispatchEvent(new CustomEvent('fornax:error', { detail: e })); } },
    })));
    placeBelow(pop, btn);
    undo = dismissable(pop, close, btn);
    pop.querySelector('button').focus();
  });
  return btn;
}

// "Expand all" / "Collapse all" for the folded single-child chains of every flame graph
// of a view; the choice is in the URL (collapse=off). sync(s) follows the state.
export function collapseButton(app) {
  const btn = h('button', { type: 'button', class: 'btn', 'data-testid': 'collapse-all',
    onclick: () => app.navigate({ collapse: app.state.collapse === 'off' ? '' : 'off' }) });
  btn.sync = (s) => {
    const off = s.collapse === 'off';
    btn.textContent = off ? 'Collapse groups' : 'Expand all';
    btn.title = off ? 'Fold chains of single calls into one bar' : 'Show every frame of folded call chains';
    btn.setAttribute('aria-pressed', off ? 'true' : 'false');
  };
  btn.sync(app.state);
  return btn;
}

// Flame graph options shared by every view: the expand/collapse-all menu items go
// through the URL like the button.
export const collapseOpts = (app) => ({
  collapse: app.state.collapse !== 'off',
  colorMode: app.state.color,
  onCollapseAll: (on) => app.navigate({ collapse: on ? '' : 'off' }),
});

// Colour by package (default) or by self time, for the non-diff flame graphs of a view.
export function colorModePicker(app) {
  return segmented([['', 'Package'], ['self', 'Self time']], app.state.color, (v) => app.navigate({ color: v }), 'color-mode');
}

export function diffLegend(colorBlind, onToggle) {
  const stops = [0, 5, 10, 15, 20].map((b) => diffColor(b, colorBlind));
  return h('div', { class: 'legend', 'data-testid': 'diff-legend' },
    h('span', { class: 'small', text: '−100% (removed)' }),
    h('span', { class: 'legend-bar', style: `background: linear-gradient(90deg, ${stops.join(',')})` }),
    h('span', { class: 'small', text: '+100% (added)' }),
    h('label', { class: 'small cb' }, h('input', { type: 'checkbox', checked: colorBlind, onchange: (e) => onToggle(e.target.checked) }), ' colour-blind'));
}

// The resolved query for one side ('l' or 'r') of the comparison/diff views. Without an
// explicit range the baseline takes the first half of the main range and the comparison
// the second half.
export function sideQuery(s, side) {
  const [start, end] = resolveRange(s.from, s.until);
  const sel = (side === 'l' ? s.lsel : s.rsel) || s.sel;
  const from = side === 'l' ? s.lfrom : s.rfrom, until = side === 'l' ? s.luntil : s.runtil;
  let range;
  if (from && until) range = resolveRange(from, until);
  else {
    const mid = Math.round((start + end) / 2);
    range = side === 'l' ? [start, mid] : [mid, end];
  }
  return { sel, start: range[0], end: range[1], from: from || String(range[0]), until: until || String(range[1]) };
}

export function mergeRequest(s, sel, start, end) {
  const r = { profileTypeID: s.query, labelSelector: sel, start, end };
  r.maxNodes = Number(s.maxNodes) || 8192;
  return r;
}

// limit: with groupBy, only the series with the largest totals (the server picks them).
export async function fetchSeries(s, sel, start, end, width, groupBy, signal, limit = 0) {
  const req = { profileTypeID: s.query, labelSelector: sel, start, end, step: autoStep(start, end, Math.max(60, width / 3)) };
  if (groupBy) { req.groupBy = [groupBy]; if (limit) req.limit = limit; }
  const res = await rpc('SelectSeries', req, signal);
  const list = res.series || [];
  list.step = req.step * 1000; // ms, for drawing each point as a column
  return list;
}

// Controls for one side of the comparison/diff views: selector, range, and a timeline of
// the whole main range where dragging picks this side's range.
export class SideControls {
  constructor(host, app, side) {
    this.app = app; this.side = side;
    const title = side === 'l' ? 'Baseline' : 'Comparison';
    this.el = h('div', { class: `side side-${side}`, 'data-testid': `side-${side === 'l' ? 'baseline' : 'comparison'}` });
    const head = h('div', { class: 'side-head' }, h('span', { class: `side-title tag-${side}`, text: title }));
    this.el.append(head);
    host.append(this.el);
    this.selector = new SelectorInput(head, {
      testid: `selector-${side}`, label: `${title} label selector`,
      getType: () => app.state.query, getRange: () => app.range(),
      onSubmit: (v) => app.navigate({ [`${side}sel`]: v, [`${side}focus`]: '' }),
    });
    this.time = new TimePicker(head, { from: '', until: '', testid: `time-${side}`, onChange: (from, until) => app.navigate({ [`${side}from`]: from, [`${side}until`]: until, [`${side}focus`]: '' }) });
    this.timeline = new Timeline(this.el, {
      pane: side, height: 64, label: `${title} timeline: drag to choose the ${title.toLowerCase()} time range`,
      onSelect: (a, b) => app.navigate({ [`${side}from`]: String(a), [`${side}until`]: String(b), [`${side}focus`]: '' }),
    });
  }

  async update(s, force, signal) {
    let q, range;
    try { q = sideQuery(s, this.side); range = resolveRange(s.from, s.until); } catch (e) { this.timeline.setError(e.message); return; }
    this.selector.value = q.sel;
    this.time.set(q.from, q.until);
    this.timeline.setRange(range[0], range[1]);
    this.timeline.setSelections([{ start: q.start, end: q.end, kind: this.side === 'l' ? 'baseline' : 'comparison' }]);
    const key = [s.query, q.sel, s.from, s.until].join('|');
    if (!force && key === this.key) return;
    this.key = key;
    this.timeline.setLoading();
    try {
      const series = await fetchSeries(s, q.sel, range[0], range[1], this.timeline.el.clientWidth, '', signal);
      this.timeline.setSeries(series.length ? [{ label: 'total', points: series.flatMap(seriesPoints) }] : [], this.app.format(), series.step);
    } catch (e) {
      if (e.name !== 'AbortError') this.timeline.setError(e.message);
    }
  }

  destroy() { this.timeline.destroy(); this.el.remove(); }
}
