// Single view: timeline, then the flame graph and/or top table of one query, or the
// sandwich view (callers above, callees below a chosen function); Explain and exports.

import { h } from '../dom.js';
import { rpc } from '../api.js';
import { FlameGraph } from '../flamegraph.js';
import { TopTable } from '../table.js';
import { Timeline, seriesPoints } from '../timeline.js';
import { ExplainPanel } from '../explain.js';
import { decodeFlamegraph } from '../flamedata.js';
import { resolveRange } from '../time.js';
import { splitPath } from '../state.js';
import { exportPprof, exportFlamebearer, exportFolded, exportPNG, baseName } from '../export.js';
import { SearchBox, segmented, menuButton, mergeRequest, fetchSeries, collapseButton, collapseOpts, colorModePicker } from './common.js';

export class SingleView {
  constructor(host, app) {
    this.app = app;
    this.el = h('section', { class: 'view view-single', 'data-testid': 'view-single' });
    host.append(this.el);
    this.timeline = new Timeline(this.el, {
      pane: 'main', height: 90,
      onSelect: (a, b) => app.navigate({ from: String(a), until: String(b), focus: '' }),
    });
    const bar = h('div', { class: 'toolbar' });
    this.el.append(bar);
    this.search = new SearchBox(bar, { onChange: (q) => app.navigate({ search: q }, { replace: true }) });
    this.resetBtn = h('button', { type: 'button', class: 'btn', text: 'Reset zoom', 'data-testid': 'reset-zoom', disabled: true, onclick: () => app.navigate({ focus: '' }) });
    this.display = segmented([['flame', 'Flame graph'], ['table', 'Top table'], ['both', 'Both'], ['sandwich', 'Sandwich']],
      app.state.display, (v) => app.navigate({ display: v }), 'display');
    this.explainBtn = h('button', { type: 'button', class: 'btn explain-btn', 'data-testid': 'explain', text: 'Explain', 'aria-pressed': 'false', onclick: () => app.navigate({ explain: app.state.explain ? '' : '1' }) });
    this.collapseBtn = collapseButton(app);
    this.colorMode = colorModePicker(app);
    bar.append(this.resetBtn, this.collapseBtn, h('span', { class: 'small muted', text: 'Colour' }), this.colorMode, h('span', { class: 'spacer' }), this.display,
      menuButton('Export ▾', () => this.exportItems(), 'export'), this.explainBtn);

    this.content = h('div', { class: 'content' });
    this.el.append(this.content);
    this.tableCol = h('div', { class: 'col col-table' });
    this.flameCol = h('div', { class: 'col col-flame' });
    this.sandCol = h('div', { class: 'col col-sandwich', hidden: true });
    this.content.append(this.tableCol, this.flameCol, this.sandCol);
    const fmt = () => app.format();
    this.table = new TopTable(this.tableCol, {
      pane: 'main', format: fmt(),
      onSelect: (name) => app.navigate({ search: name }),
      onSandwich: (name) => app.navigate({ display: 'sandwich', fn: name }),
    });
    this.flame = new FlameGraph(this.flameCol, {
      pane: 'main', format: fmt(), ...collapseOpts(app),
      onFocus: (path) => app.navigate({ focus: path.join(';') }),
      onSandwich: (name) => app.navigate({ display: 'sandwich', fn: name }),
      onSearchName: (name) => app.navigate({ search: name }),
    });
    this.sandTitle = h('div', { class: 'sand-title' });
    this.sandCol.append(this.sandTitle, h('div', { class: 'sand-label muted', text: 'Callers (who calls it) ↑' }));
    this.callers = new FlameGraph(this.sandCol, { ...collapseOpts(app), pane: 'callers', inverted: true, label: 'Callers flame graph', emptyText: 'Pick a function: double-click a row in the table, or right-click a bar and choose "Open in sandwich view".' });
    this.sandCol.append(h('div', { class: 'sand-label muted', text: 'Callees (what it calls) ↓' }));
    this.callees = new FlameGraph(this.sandCol, { ...collapseOpts(app), pane: 'callees', label: 'Callees flame graph', emptyText: '' });
    this.explain = new ExplainPanel(this.content, {
      onMarks: (names) => this.flame.setMarked(names),
      onClose: () => app.navigate({ explain: '' }),
      onSearchName: (name) => app.navigate({ search: name }),
    });
    this.seq = 0;
  }

  exportItems() {
    const s = this.app.state, d = this.data;
    const r = this.lastRange || [0, 0];
    const name = baseName(s.query, s.sel, r[0]);
    const items = [
      ['export-pprof', 'pprof (.pb.gz)', () => exportPprof(mergeRequest(s, s.sel, r[0], r[1]), name)],
    ];
    if (d && !d.empty) {
      items.push(['export-json', 'Flamebearer JSON', () => exportFlamebearer(d, s.query, name)]);
      items.push(['export-folded', 'Folded stacks (.txt)', () => exportFolded(d, name)]);
      items.push(['export-png', 'PNG image', () => exportPNG(this.flame, name)]);
    }
    return items;
  }

  async update(s, prev, force) {
    const key = [s.query, s.sel, s.from, s.until, s.maxNodes].join('|');
    this.display.setValue(s.display);
    this.search.value = s.search;
    this.content.dataset.display = s.display;
    this.content.classList.toggle('has-explain', !!s.explain);
    this.explainBtn.setAttribute('aria-pressed', s.explain ? 'true' : 'false');
    this.resetBtn.disabled = !s.focus;
    this.collapseBtn.sync(s);
    this.colorMode.setValue(s.color);
    for (const f of [this.flame, this.callers, this.callees]) { f.setCollapse(s.collapse !== 'off'); f.setColorMode(s.color); }
    if (force || key !== this.key) {
      this.key = key;
      await this.fetch(s);
    }
    // the state may have moved on while the data was loading (typing a search, say)
    if (!this.destroyed) this.apply(this.app.state);
  }

  async fetch(s) {
    const seq = ++this.seq;
    if (this.ctrl) this.ctrl.abort();
    const ctrl = this.ctrl = new AbortController();
    let range;
    try { range = resolveRange(s.from, s.until); } catch (e) { this.flame.setError(e.message); this.timeline.setError(e.message); return; }
    this.lastRange = range;
    this.timeline.setRange(range[0], range[1]);
    this.timeline.setSelections([]);
    if (!s.query) {
      this.flame.setError(`No profiles yet. Push some, for example: curl --data-binary @stacks.folded "${location.origin}/ingest?name=myapp.cpu" (or point a Pyroscope SDK or Grafana Alloy at ${location.origin}), then press Refresh.`);
      this.timeline.setSeries([]);
      this.table.setData(null);
      return;
    }
    this.flame.setLoading(true);
    this.timeline.setLoading();
    const fmt = this.app.format();
    const series = fetchSeries(s, s.sel, range[0], range[1], this.timeline.el.clientWidth, '', ctrl.signal)
      .then((list) => { if (seq === this.seq) this.timeline.setSeries(list.length ? [{ label: 'total', points: list.flatMap(seriesPoints) }] : [], fmt, list.step); })
      .catch((e) => { if (e.name !== 'AbortError' && seq === this.seq) this.timeline.setError(e.message); });
    try {
      const res = await rpc('SelectMergeStacktraces', mergeRequest(s, s.sel, range[0], range[1]), ctrl.signal);
      if (seq !== this.seq) return;
      this.data = decodeFlamegraph(res.flamegraph);
      this.app.clearError();
      this.flame.setLoading(false);
      this.flame.setData(this.data, { format: fmt, focusPath: splitPath(s.focus) });
      this.table.setData(this.data, fmt);
      this.sandKey = null;
      this.searchKey = null;
    } catch (e) {
      if (e.name === 'AbortError' || seq !== this.seq) return;
      this.data = null;
      this.flame.setLoading(false);
      this.flame.setError(e.message);
      this.table.setData(null);
      this.app.showError(e);
    }
    await series;
  }

  apply(s) {
    if (!this.data) return;
    this.flame.setFocusPath(splitPath(s.focus));
    if (this.searchKey !== s.search) {
      this.searchKey = s.search;
      const r = this.flame.setSearch(s.search);
      this.search.show(r, 'single');
      this.table.setSearch(this.flame.matched);
    }
    const sandwich = s.display === 'sandwich';
    this.sandCol.hidden = !sandwich;
    this.table.setSelected(sandwich ? s.fn : '');
    if (sandwich && this.sandKey !== s.fn) {
      this.sandKey = s.fn;
      const fmt = this.app.format();
      this.sandTitle.innerHTML = '';
      if (s.fn) {
        const sw = this.data.sandwich(s.fn);
        this.sandTitle.append(h('span', { text: 'Sandwich: ' }), h('code', { text: s.fn }));
        this.callers.setData(sw.callers, { format: fmt });
        this.callees.setData(sw.callees, { format: fmt });
      } else {
        this.callers.setData(null);
        this.callees.setData(null);
      }
    }
    if (sandwich) { this.callers.setSearch(s.search); this.callees.setSearch(s.search); }
    if (s.explain && this.lastRange) {
      this.explain.load({ target: { query: { profile_type_id: s.query, label_selector: s.sel, start: this.lastRange[0], end: this.lastRange[1] } } });
    } else if (!s.explain) {
      this.explain.hide();
      this.flame.setMarked([]);
    }
  }

  focusSearch() { this.search.input.focus(); this.search.input.select(); }

  destroy() {
    this.destroyed = true;
    if (this.ctrl) this.ctrl.abort();
    for (const w of [this.flame, this.callers, this.callees, this.timeline, this.table, this.explain]) w.destroy();
    this.el.remove();
  }
}
