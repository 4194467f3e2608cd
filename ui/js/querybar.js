// Query controls: the label selector input with autocomplete (LabelNames / LabelValues),
// the time range picker (relative presets and absolute times), and the query bar that
// puts them together with the profile type picker and the refresh button.

import { h, dismissable, placeBelow } from './dom.js';
import { rpc } from './api.js';
import { PRESETS, rangeLabel, resolveRange, parseTime, formatDateTime } from './time.js';
import { parseProfileType } from './format.js';

const cache = new Map(); // autocomplete answers, kept 30 s

async function cached(key, fn) {
  const hit = cache.get(key);
  if (hit && Date.now() - hit.t < 30000) return hit.v;
  const v = await fn();
  cache.set(key, { t: Date.now(), v });
  return v;
}

// The editing context at the caret: a label name being typed, or a value after name="...
export function selectorContext(text, caret) {
  const before = text.slice(0, caret);
  let quotes = 0;
  for (let i = 0; i < before.length; i++) { if (before[i] === '\\') i++; else if (before[i] === '"') quotes++; }
  if (quotes % 2 === 1) {
    const m = /([A-Za-z_][\w.]*)\s*(=~|!=|!~|=)\s*"((?:[^"\\]|\\.)*)$/.exec(before);
    return m ? { kind: 'value', name: m[1], partial: m[3], from: caret - m[3].length } : null;
  }
  const m = /(^|[{,])\s*([A-Za-z_][\w.]*)?$/.exec(before);
  if (!m || (m[1] === '' && !before.trimStart().startsWith('{') && before.trim() !== '')) return null;
  const partial = m[2] || '';
  return { kind: 'name', partial, from: caret - partial.length };
}

export class SelectorInput {
  // opts: value, testid, label, getType() -> profile type ID, getRange() -> [start, end],
  // onSubmit(value)
  constructor(host, opts) {
    this.opts = opts;
    this.wrap = h('div', { class: 'selector' });
    this.input = h('input', {
      type: 'text', class: 'selector-input', spellcheck: 'false', autocomplete: 'off',
      value: opts.value || '{}', 'aria-label': opts.label || 'Label selector', 'data-testid': opts.testid || 'label-selector',
      role: 'combobox', 'aria-autocomplete': 'list', 'aria-expanded': 'false',
      placeholder: '{service_name="my-app"}',
    });
    this.list = h('ul', { class: 'ac-list', role: 'listbox', hidden: true, 'data-testid': 'autocomplete' });
    this.wrap.append(this.input, this.list);
    host.append(this.wrap);
    this.items = [];
    this.active = -1;
    this.seq = 0;
    this.input.addEventListener('input', () => this.suggest());
    this.input.addEventListener('click', () => this.suggest());
    this.input.addEventListener('focus', () => {
      if (this.input.value.trim() === '{}') setTimeout(() => { this.input.setSelectionRange(1, 1); this.suggest(); }, 0);
    });
    this.input.addEventListener('blur', () => setTimeout(() => this.close(), 150));
    this.input.addEventListener('keydown', (e) => this.onKey(e));
    this.list.addEventListener('mousedown', (e) => {
      const li = e.target.closest('li[data-i]');
      if (li) { e.preventDefault(); this.accept(Number(li.dataset.i)); }
    });
  }

  get value() { return this.input.value.trim() || '{}'; }
  set value(v) { if (document.activeElement !== this.input) this.input.value = v || '{}'; }

  async suggest() {
    const ctx = selectorContext(this.input.value, this.input.selectionStart ?? this.input.value.length);
    if (!ctx) { this.close(); return; }
    const seq = ++this.seq;
    const type = this.opts.getType ? this.opts.getType() : '';
    let range;
    try { range = this.opts.getRange(); } catch { range = [Date.now() - 3600e3, Date.now()]; }
    const matchers = type ? [`{__profile_type__="${type}"}`] : [];
    let options = [];
    try {
      if (ctx.kind === 'name') {
        const r = await cached(`n|${type}|${Math.round(range[0] / 60e3)}`, () => rpc('LabelNames', { matchers, start: range[0], end: range[1] }));
        options = (r.names || []).filter((n) => !n.startsWith('__'));
      } else {
        const r = await cached(`v|${type}|${ctx.name}|${Math.round(range[0] / 60e3)}`, () => rpc('LabelValues', { name: ctx.name, matchers, start: range[0], end: range[1] }));
        options = r.names || [];
      }
    } catch { options = []; }
    if (seq !== this.seq) return;
    const p = ctx.partial.toLowerCase();
    const starts = options.filter((o) => o.toLowerCase().startsWith(p));
    const contains = options.filter((o) => !o.toLowerCase().startsWith(p) && o.toLowerCase().includes(p));
    this.ctx = ctx;
    this.items = [...starts, ...contains].slice(0, 50);
    if (!this.items.length || (this.items.length === 1 && this.items[0] === ctx.partial && ctx.kind === 'value')) { this.close(); return; }
    this.active = 0;
    this.renderList();
  }

  renderList() {
    this.list.innerHTML = '';
    this.items.forEach((it, i) => this.list.append(h('li', {
      role: 'option', 'data-i': i, 'aria-selected': i === this.active ? 'true' : 'false',
      class: i === this.active ? 'active' : '', text: it,
    })));
    this.list.hidden = false;
    this.input.setAttribute('aria-expanded', 'true');
    const a = this.list.children[this.active];
    if (a) a.scrollIntoView({ block: 'nearest' });
  }

  close() {
    this.list.hidden = true;
    this.items = [];
    this.input.setAttribute('aria-expanded', 'false');
  }

  accept(i) {
    const it = this.items[i], ctx = this.ctx;
    if (it == null || !ctx) return;
    let v = this.input.value;
    const caret = this.input.selectionStart ?? v.length;
    if (!v.trim()) v = '{}';
    let insert, rest = v.slice(caret);
    if (ctx.kind === 'name') {
      insert = `${it}="`;
      // keep an existing operator after the caret
      if (/^\s*(=|!=|=~|!~)/.test(rest)) insert = it;
    } else {
      const esc = it.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
      insert = esc;
      rest = rest.replace(/^(?:[^"\\]|\\.)*"?/, '');
      insert += '"';
    }
    const head = v.slice(0, ctx.from);
    // close the selector when the user has not typed the brace yet
    if (ctx.kind === 'value' && head.trimStart().startsWith('{') && !rest.includes('}')) rest += '}';
    v = head + insert + rest;
    this.input.value = v;
    const pos = head.length + insert.length;
    this.input.setSelectionRange(pos, pos);
    this.close();
    this.input.focus();
    if (ctx.kind === 'name') this.suggest();
  }

  onKey(e) {
    const open = !this.list.hidden && this.items.length;
    if (open && (e.key === 'ArrowDown' || e.key === 'ArrowUp')) {
      e.preventDefault();
      this.active = (this.active + (e.key === 'ArrowDown' ? 1 : this.items.length - 1)) % this.items.length;
      this.renderList();
    } else if (open && (e.key === 'Tab' || (e.key === 'Enter' && this.active >= 0))) {
      e.preventDefault();
      this.accept(this.active);
    } else if (e.key === 'Escape' && open) {
      e.preventDefault(); e.stopPropagation();
      this.close();
    } else if (e.key === 'Enter') {
      e.preventDefault();
      this.close();
      if (this.opts.onSubmit) this.opts.onSubmit(this.value);
    }
  }
}

export class TimePicker {
  // opts: from, until, onChange(from, until), testid, compact
  constructor(host, opts) {
    this.opts = opts;
    this.from = opts.from; this.until = opts.until;
    this.button = h('button', { type: 'button', class: 'btn time-btn', 'data-testid': opts.testid || 'time-range', 'aria-haspopup': 'dialog', onclick: () => this.open() });
    host.append(this.button);
    this.renderLabel();
  }

  set(from, until) { this.from = from; this.until = until; this.renderLabel(); }

  renderLabel() {
    this.button.textContent = `${rangeLabel(this.from, this.until)} ▾`;
    this.button.title = `${this.from} → ${this.until}`;
  }

  open() {
    if (this.pop) { this.closePop(); return; }
    const fromIn = h('input', { type: 'text', value: this.from, 'aria-label': 'From', 'data-testid': 'time-from', spellcheck: 'false' });
    const untilIn = h('input', { type: 'text', value: this.until, 'aria-label': 'Until', 'data-testid': 'time-until', spellcheck: 'false' });
    const err = h('div', { class: 'err', role: 'alert' });
    const apply = () => {
      try { resolveRange(fromIn.value.trim(), untilIn.value.trim()); } catch (e) { err.textContent = e.message; return; }
      this.closePop();
      this.opts.onChange(fromIn.value.trim(), untilIn.value.trim());
    };
    for (const i of [fromIn, untilIn]) i.addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); apply(); } });
    const now = Date.now();
    const absHint = (v) => { const t = parseTime(v, now); return isFinite(t) ? formatDateTime(t, true) : ''; };
    const hintF = h('span', { class: 'muted small', text: absHint(this.from) });
    const hintU = h('span', { class: 'muted small', text: absHint(this.until) });
    fromIn.addEventListener('input', () => { hintF.textContent = absHint(fromIn.value); });
    untilIn.addEventListener('input', () => { hintU.textContent = absHint(untilIn.value); });
    this.pop = h('div', { class: 'menu-pop time-pop', role: 'dialog', 'aria-label': 'Time range' },
      h('div', { class: 'time-cols' },
        h('div', { class: 'time-presets' }, PRESETS.map(([f, label]) => h('button', {
          type: 'button', class: f === this.from && this.until === 'now' ? 'active' : '', text: label,
          onclick: () => { this.closePop(); this.opts.onChange(f, 'now'); },
        }))),
        h('div', { class: 'time-abs' },
          h('label', {}, 'From', fromIn, hintF),
          h('label', {}, 'Until', untilIn, hintU),
          h('div', { class: 'muted small', text: 'now-30m, now, 2024-05-01 10:00, or ms since epoch' }),
          err,
          h('button', { type: 'button', class: 'btn primary', text: 'Apply time range', 'data-testid': 'time-apply', onclick: apply }))));
    placeBelow(this.pop, this.button);
    this.undo = dismissable(this.pop, () => this.closePop(), this.button);
    fromIn.focus();
  }

  closePop() {
    if (!this.pop) return;
    this.undo();
    this.pop.remove();
    this.pop = null;
    this.button.focus();
  }
}

function typeLabel(t) {
  return `${t.name} · ${t.sampleType}${t.sampleUnit ? ` (${t.sampleUnit})` : ''}`;
}

// The main query bar. app: {state, navigate(patch, opts), refresh(), profileTypes, range()}
export class QueryBar {
  constructor(host, app) {
    this.app = app;
    this.typeSel = h('select', { class: 'type-select', 'aria-label': 'Profile type', 'data-testid': 'profile-type', onchange: () => app.navigate({ query: this.typeSel.value, focus: '', lfocus: '', rfocus: '' }) });
    this.el = h('form', { class: 'querybar', 'data-testid': 'querybar', onsubmit: (e) => { e.preventDefault(); this.submit(); } });
    host.append(this.el);
    this.el.append(this.typeSel);
    this.selector = new SelectorInput(this.el, {
      testid: 'label-selector', label: 'Label selector',
      getType: () => app.state.query, getRange: () => app.range(),
      onSubmit: () => this.submit(),
    });
    this.time = new TimePicker(this.el, { from: app.state.from, until: app.state.until, testid: 'time-range', onChange: (from, until) => app.navigate({ from, until }) });
    this.el.append(
      h('button', { type: 'button', class: 'btn icon', title: 'Zoom out (double the time range)', 'aria-label': 'Zoom out time range', 'data-testid': 'zoom-out', onclick: () => this.zoomOut(), text: '⊖' }),
      h('button', { type: 'submit', class: 'btn primary', 'data-testid': 'run-query', title: 'Run the query / refresh (relative times move to now)', text: '⟳ Refresh' }));
  }

  submit() {
    const s = this.app.state;
    const sel = this.selector.value;
    const type = this.typeSel.value || s.query;
    if (sel === s.sel && type === s.query) this.app.refresh();
    else this.app.navigate({ sel, query: type, focus: '', lfocus: '', rfocus: '' });
  }

  zoomOut() {
    let r;
    try { r = this.app.range(); } catch { return; }
    const w = r[1] - r[0];
    const end = Math.min(Date.now(), r[1] + w / 2);
    this.app.navigate({ from: String(Math.round(end - 2 * w)), until: String(Math.round(end)) });
  }

  update(state, types) {
    const ids = types.map((t) => t.ID);
    if (this.typesKey !== ids.join('|') + '|' + state.query) {
      this.typesKey = ids.join('|') + '|' + state.query;
      this.typeSel.innerHTML = '';
      const groups = new Map();
      for (const t of types) {
        if (!groups.has(t.name)) groups.set(t.name, []);
        groups.get(t.name).push(t);
      }
      for (const [name, list] of groups) {
        const g = h('optgroup', { label: name });
        for (const t of list) g.append(h('option', { value: t.ID, text: typeLabel(t) }));
        this.typeSel.append(g);
      }
      if (state.query && !ids.includes(state.query)) {
        this.typeSel.append(h('option', { value: state.query, text: typeLabel(parseProfileType(state.query)) + ' (no data listed)' }));
      }
      if (!types.length && !state.query) this.typeSel.append(h('option', { value: '', text: 'No profile types yet' }));
    }
    this.typeSel.value = state.query;
    this.selector.value = state.sel;
    this.time.set(state.from, state.until);
  }
}
