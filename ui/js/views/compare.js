// Comparison view: two flame graphs side by side, each with its own label selector and
// time range (baseline on the left, comparison on the right), one shared search. The
// sandwich of a function opens in the diff view, where both sides share one graph.

import { h } from '../dom.js';
import { rpc } from '../api.js';
import { FlameGraph } from '../flamegraph.js';
import { decodeFlamegraph } from '../flamedata.js';
import { splitPath } from '../state.js';
import { SearchBox, SideControls, sideQuery, mergeRequest, collapseButton, collapseOpts, colorModePicker } from './common.js';

export class ComparisonView {
  constructor(host, app) {
    this.app = app;
    this.el = h('section', { class: 'view view-comparison', 'data-testid': 'view-comparison' });
    host.append(this.el);
    const bar = h('div', { class: 'toolbar' });
    this.search = new SearchBox(bar, { onChange: (q) => app.navigate({ search: q }, { replace: true }) });
    this.collapseBtn = collapseButton(app);
    this.colorMode = colorModePicker(app);
    bar.append(this.collapseBtn, h('span', { class: 'small muted', text: 'Colour' }), this.colorMode, h('span', { class: 'spacer' }),
      h('button', { type: 'button', class: 'btn', text: 'Show diff →', 'data-testid': 'to-diff', onclick: () => app.navigate({ view: 'diff' }) }));
    this.panes = h('div', { class: 'panes' });
    this.el.append(bar, this.panes);
    this.sides = {};
    for (const side of ['l', 'r']) {
      const col = h('div', { class: 'pane' });
      this.panes.append(col);
      const ctl = new SideControls(col, app, side);
      const flame = new FlameGraph(col, {
        pane: side === 'l' ? 'left' : 'right', format: app.format(), ...collapseOpts(app),
        label: side === 'l' ? 'Baseline flame graph' : 'Comparison flame graph',
        onFocus: (path) => app.navigate({ [`${side}focus`]: path.join(';') }),
        onSearchName: (name) => app.navigate({ search: name }),
        onSandwich: (name) => app.navigate({ view: 'diff', display: 'sandwich', fn: name }),
      });
      this.sides[side] = { ctl, flame, col, key: null, seq: 0 };
    }
  }

  async update(s, prev, force) {
    this.search.value = s.search;
    this.collapseBtn.sync(s);
    this.colorMode.setValue(s.color);
    for (const p of Object.values(this.sides)) { p.flame.setCollapse(s.collapse !== 'off'); p.flame.setColorMode(s.color); }
    await Promise.all(['l', 'r'].map((side) => this.updateSide(s, side, force)));
  }

  async updateSide(s, side, force) {
    const p = this.sides[side];
    p.ctl.update(s, force);
    let q;
    try { q = sideQuery(s, side); } catch (e) { p.flame.setError(e.message); return; }
    const key = [s.query, q.sel, q.from, q.until, s.from, s.until, s.maxNodes].join('|');
    if (force || key !== p.key) {
      p.key = key;
      const seq = ++p.seq;
      p.flame.setLoading(true);
      try {
        const res = await rpc('SelectMergeStacktraces', mergeRequest(s, q.sel, q.start, q.end));
        if (seq !== p.seq) return;
        p.data = decodeFlamegraph(res.flamegraph);
        p.flame.setLoading(false);
        p.flame.setData(p.data, { format: this.app.format(), focusPath: splitPath(s[`${side}focus`]) });
        p.searchKey = null;
      } catch (e) {
        if (seq !== p.seq) return;
        p.data = null;
        p.flame.setLoading(false);
        p.flame.setError(e.message);
        this.app.showError(e);
        return;
      }
    }
    if (!p.data || this.destroyed) return;
    s = this.app.state; // it may have moved on while the profile was loading
    p.flame.setFocusPath(splitPath(s[`${side}focus`]));
    if (p.searchKey !== s.search) {
      p.searchKey = s.search;
      const r = p.flame.setSearch(s.search);
      if (side === 'r' || !s.search) this.search.show(r, 'single');
    }
  }

  focusSearch() { this.search.input.focus(); this.search.input.select(); }

  destroy() {
    this.destroyed = true;
    for (const p of Object.values(this.sides)) { p.ctl.destroy(); p.flame.destroy(); }
    this.el.remove();
  }
}
