// Diff view: one flame graph of the change in share between a baseline and a comparison
// query (Diff RPC), red where the comparison grew, green where it shrank, with a legend,
// a Baseline / Comparison / Diff table, a diff sandwich view (callers and callees of one
// function, each coloured by its own change), Explain and exports.

import { h } from '../dom.js';
import { rpc } from '../api.js';
import { FlameGraph } from '../flamegraph.js';
import { TopTable } from '../table.js';
import { ExplainPanel } from '../explain.js';
import { decodeDiff } from '../flamedata.js';
import { splitPath } from '../state.js';
import { exportFlamebearer, exportPNG, baseName } from '../export.js';
import { SearchBox, SideControls, sideQuery, mergeRequest, segmented, menuButton, diffLegend, collapseButton, collapseOpts } from './common.js';

const CB_KEY = 'fornax.colorBlind';

export class DiffView {
  constructor(host, app) {
    this.app = app;
    this.el = h('section', { class: 'view view-diff', 'data-testid': 'view-diff' });
    host.append(this.el);
    const sides = h('div', { class: 'panes sides' });
    this.el.append(sides);
    this.sides = {};
    for (const side of ['l', 'r']) {
      const pane = h('div', { class: 'pane' });
      sides.append(pane);
      this.sides[side] = new SideControls(pane, app, side);
    }
    const bar = h('div', { class: 'toolbar' });
    this.el.append(bar);
    this.search = new SearchBox(bar, { onChange: (q) => app.navigate({ search: q }, { replace: true }) });
    this.colorBlind = localStorage.getItem(CB_KEY) === '1';
    this.legendHost = h('span', { class: 'legend-host' });
    this.renderLegend();
    this.resetBtn = h('button', { type: 'button', class: 'btn', text: 'Reset zoom', 'data-testid': 'reset-zoom', disabled: true, onclick: () => app.navigate({ focus: '' }) });
    this.display = segmented([['flame', 'Flame graph'], ['table', 'Table'], ['both', 'Both'], ['sandwich', 'Sandwich']], app.state.display, (v) => app.navigate({ display: v }), 'display');
    this.collapseBtn = collapseButton(app);
    this.explainBtn = h('button', { type: 'button', class: 'btn explain-btn', 'data-testid': 'explain', text: 'Explain', 'aria-pressed': 'false', onclick: () => app.navigate({ explain: app.state.explain ? '' : '1' }) });
    bar.append(this.resetBtn, this.collapseBtn, this.legendHost, h('span', { class: 'spacer' }), this.display,
      menuButton('Export ▾', () => this.exportItems(), 'export'), this.explainBtn);
    this.content = h('div', { class: 'content' });
    this.el.append(this.content);
    const tableCol = h('div', { class: 'col col-table' }), flameCol = h('div', { class: 'col col-flame' });
    this.sandCol = h('div', { class: 'col col-sandwich', hidden: true });
    this.content.append(tableCol, flameCol, this.sandCol);
    const sandwich = (name) => app.navigate({ display: 'sandwich', fn: name });
    this.table = new TopTable(tableCol, { pane: 'diff', onSelect: (name) => app.navigate({ search: name }), onSandwich: sandwich });
    this.flame = new FlameGraph(flameCol, {
      ...collapseOpts(app), pane: 'diff', label: 'Diff flame graph',
      onFocus: (path) => app.navigate({ focus: path.join(';') }),
      onSearchName: (name) => app.navigate({ search: name }),
      onSandwich: sandwich,
    });
    this.sandTitle = h('div', { class: 'sand-title' });
    this.sandCol.append(this.sandTitle, h('div', { class: 'sand-label muted', text: 'Callers (who calls it) ↑' }));
    this.callers = new FlameGraph(this.sandCol, { ...collapseOpts(app), pane: 'callers', inverted: true, label: 'Callers diff flame graph', emptyText: 'Pick a function: double-click a row in the table, or right-click a bar and choose "Open in sandwich view".' });
    this.sandCol.append(h('div', { class: 'sand-label muted', text: 'Callees (what it calls) ↓' }));
    this.callees = new FlameGraph(this.sandCol, { ...collapseOpts(app), pane: 'callees', label: 'Callees diff flame graph', emptyText: '' });
    for (const f of this.graphs()) f.setColorBlind(this.colorBlind);
    this.explain = new ExplainPanel(this.content, {
      onMarks: (names) => this.flame.setMarked(names),
      onClose: () => app.navigate({ explain: '' }),
      onSearchName: (name) => app.navigate({ search: name }),
    });
    this.seq = 0;
  }

  renderLegend() {
    this.legendHost.innerHTML = '';
    this.legendHost.append(diffLegend(this.colorBlind, (on) => {
      this.colorBlind = on;
      localStorage.setItem(CB_KEY, on ? '1' : '0');
      for (const f of this.graphs()) f.setColorBlind(on);
      this.renderLegend();
    }));
  }

  graphs() { return [this.flame, this.callers, this.callees]; }

  exportItems() {
    const s = this.app.state, d = this.data;
    if (!d || d.empty) return [['export-none', 'Nothing to export', () => {}]];
    const name = 'diff-' + baseName(s.query, s.rsel || s.sel, this.q ? this.q.r.start : 0);
    return [
      ['export-json', 'Flamebearer JSON (diff)', () => exportFlamebearer(d, s.query, name)],
      ['export-png', 'PNG image', () => exportPNG(this.flame, name)],
    ];
  }

  async update(s, prev, force) {
    this.search.value = s.search;
    this.display.setValue(s.display);
    this.content.dataset.display = s.display;
    this.collapseBtn.sync(s);
    for (const f of this.graphs()) f.setCollapse(s.collapse !== 'off');
    this.content.classList.toggle('has-explain', !!s.explain);
    this.explainBtn.setAttribute('aria-pressed', s.explain ? 'true' : 'false');
    this.resetBtn.disabled = !s.focus;
    this.sides.l.update(s, force);
    this.sides.r.update(s, force);
    let l, r;
    try { l = sideQuery(s, 'l'); r = sideQuery(s, 'r'); } catch (e) { this.flame.setError(e.message); return; }
    const key = [s.query, l.sel, l.from, l.until, r.sel, r.from, r.until, s.from, s.until, s.maxNodes].join('|');
    if (force || key !== this.key) {
      this.key = key;
      this.q = { l, r };
      const seq = ++this.seq;
      this.flame.setLoading(true);
      try {
        const res = await rpc('Diff', { left: mergeRequest(s, l.sel, l.start, l.end), right: mergeRequest(s, r.sel, r.start, r.end) });
        if (seq !== this.seq) return;
        this.data = decodeDiff(res.flamegraph);
        this.app.clearError();
        this.flame.setLoading(false);
        this.flame.setData(this.data, { format: this.app.format(), focusPath: splitPath(s.focus) });
        this.table.setData(this.data, this.app.format());
        this.searchKey = null;
        this.sandKey = null;
      } catch (e) {
        if (seq !== this.seq) return;
        this.data = null;
        this.flame.setLoading(false);
        this.flame.setError(e.message);
        this.table.setData(null);
        this.app.showError(e);
        return;
      }
    }
    if (!this.data || this.destroyed) return;
    s = this.app.state; // it may have moved on while the diff was loading
    this.flame.setFocusPath(splitPath(s.focus));
    if (this.searchKey !== s.search) {
      this.searchKey = s.search;
      this.search.show(this.flame.setSearch(s.search), 'diff');
      this.table.setSearch(this.flame.matched);
    }
    this.applySandwich(s);
    if (s.explain && this.q) {
      const src = (q) => ({ query: { profile_type_id: s.query, label_selector: q.sel, start: q.start, end: q.end } });
      this.explain.load({ baseline: src(this.q.l), comparison: src(this.q.r) });
    } else if (!s.explain) {
      this.explain.hide();
      this.flame.setMarked([]);
    }
  }

  applySandwich(s) {
    const on = s.display === 'sandwich';
    this.sandCol.hidden = !on;
    this.table.setSelected(on ? s.fn : '');
    if (on && this.sandKey !== s.fn) {
      this.sandKey = s.fn;
      const fmt = this.app.format();
      this.sandTitle.innerHTML = '';
      if (s.fn) {
        const sw = this.data.sandwich(s.fn);
        this.sandTitle.append(h('span', { text: 'Sandwich (diff): ' }), h('code', { text: s.fn }));
        this.callers.setData(sw.callers, { format: fmt });
        this.callees.setData(sw.callees, { format: fmt });
      } else {
        this.callers.setData(null);
        this.callees.setData(null);
      }
    }
    if (on) { this.callers.setSearch(s.search); this.callees.setSearch(s.search); }
  }

  focusSearch() { this.search.input.focus(); this.search.input.select(); }

  destroy() {
    this.destroyed = true;
    this.sides.l.destroy(); this.sides.r.destroy();
    for (const f of this.graphs()) f.destroy();
    this.table.destroy(); this.explain.destroy();
    this.el.remove();
  }
}
