// Tag explorer: group the query by one label, draw a timeline per value, and list each
// value's total, average, standard deviation and share: the TOP values with the largest
// totals, then "Other" for the rest (the ungrouped total minus the top values, point by
// point), with a donut chart of the shares. Picking a value (or Other, as a label!~"top values" selector) shows its flame
// graph and offers it to the single, comparison and diff views.

import { h, esc } from '../dom.js';
import { rpc } from '../api.js';
import { FlameGraph } from '../flamegraph.js';
import { Timeline, seriesPoints, seriesColor } from '../timeline.js';
import { decodeFlamegraph } from '../flamedata.js';
import { resolveRange } from '../time.js';
import { addMatcher, exceptValues } from '../state.js';
import { formatPercent } from '../format.js';
import { fetchSeries, mergeRequest, collapseOpts } from './common.js';

const TOP = 10;
export const OTHER = '~other'; // the gv of the Other row
const OTHER_COLOR = 'hsl(220 8% 62%)';

export class TagsView {
  constructor(host, app) {
    this.app = app;
    this.el = h('section', { class: 'view view-tags', 'data-testid': 'view-tags' });
    host.append(this.el);
    this.groupSel = h('select', { 'aria-label': 'Group by label', 'data-testid': 'group-by', onchange: () => app.navigate({ groupBy: this.groupSel.value, gv: '' }) });
    const bar = h('div', { class: 'toolbar' }, h('label', { class: 'inline' }, 'Group by ', this.groupSel));
    this.el.append(bar);
    this.timeline = new Timeline(this.el, {
      pane: 'tags', height: 140,
      onSelect: (a, b) => app.navigate({ from: String(a), until: String(b) }),
    });
    this.tableHost = h('div', { class: 'tag-table' });
    this.pieHost = h('div', { class: 'tag-pie', 'data-testid': 'tag-pie' });
    this.actions = h('div', { class: 'toolbar tag-actions', hidden: true });
    this.el.append(h('div', { class: 'tag-summary' }, this.pieHost, this.tableHost), this.actions);
    this.pieHost.addEventListener('click', (e) => {
      const p = e.target.closest('path[data-value]');
      if (p) app.navigate({ gv: p.dataset.value === this.app.state.gv ? '' : p.dataset.value });
    });
    this.flameHost = h('div', { class: 'tag-flame' });
    this.el.append(this.flameHost);
    this.flame = new FlameGraph(this.flameHost, { ...collapseOpts(app), pane: 'tag', label: 'Flame graph of the selected value', emptyText: 'Pick a value in the table to see its flame graph.' });
    this.flame.setData(null);
    this.rows = [];
    this.grand = 0;
    this.tableHost.addEventListener('click', (e) => {
      const tr = e.target.closest('tr[data-value]');
      if (tr) app.navigate({ gv: tr.dataset.value === this.app.state.gv ? '' : tr.dataset.value });
    });
    this.tableHost.addEventListener('keydown', (e) => {
      const tr = e.target.closest('tr[data-value]');
      if (tr && e.key === 'Enter') app.navigate({ gv: tr.dataset.value });
    });
  }

  // Label names to group by; one request per query and range (concurrent callers share it).
  loadNames(s, range) {
    const key = `${s.query}|${s.from}|${s.until}`;
    if (this.namesKey === key) return this.names;
    this.namesKey = key;
    this.names = rpc('LabelNames', { matchers: s.query ? [`{__profile_type__="${s.query}"}`] : [], start: range[0], end: range[1] })
      .then((res) => (res.names || []).filter((n) => !n.startsWith('__')).sort())
      .catch((e) => { this.namesKey = null; this.app.showError(e); return []; });
    return this.names;
  }

  async update(s, prev, force) {
    this.flame.setCollapse(s.collapse !== 'off');
    this.flame.setColorMode(s.color);
    let range;
    try { range = resolveRange(s.from, s.until); } catch (e) { this.timeline.setError(e.message); return; }
    const names = await this.loadNames(s, range);
    const groupBy = s.groupBy || (names.includes('service_name') ? 'service_name' : names[0] || '');
    if (this.groupKey !== names.join('|')) {
      this.groupKey = names.join('|');
      this.groupSel.innerHTML = '';
      for (const n of names) this.groupSel.append(h('option', { value: n, text: n }));
    }
    this.groupSel.value = groupBy;
    const key = [s.query, s.sel, s.from, s.until, groupBy].join('|');
    if (force || key !== this.key) {
      this.key = key;
      this.loading = this.loadRows(s, range, groupBy);
    }
    await this.loading;
    this.render(s, groupBy);
    await this.updateFlame(s, groupBy, range, force);
  }

  async loadRows(s, range, groupBy) {
    this.timeline.setRange(range[0], range[1]);
    this.timeline.setLoading();
    try {
      const width = this.timeline.el.clientWidth;
      const [list, all] = groupBy ? await Promise.all([
        fetchSeries(s, s.sel, range[0], range[1], width, groupBy, undefined, TOP),
        fetchSeries(s, s.sel, range[0], range[1], width, '', undefined),
      ]) : [[], []];
      this.step = list.step;
      this.rows = list.map((ser) => {
        const lbl = (ser.labels || []).find((l) => l.name === groupBy);
        return stats(lbl ? lbl.value : '', seriesPoints(ser));
      }).sort((a, b) => b.total - a.total);
      // Other: what the top values leave of the ungrouped total, per timestamp
      const rest = new Map();
      for (const ser of all) for (const [t, v] of seriesPoints(ser)) rest.set(t, (rest.get(t) || 0) + v);
      const grand = [...rest.values()].reduce((a, b) => a + b, 0);
      for (const r of this.rows) for (const [t, v] of r.points) rest.set(t, (rest.get(t) || 0) - v);
      const pts = [...rest.entries()].sort((a, b) => a[0] - b[0]).map(([t, v]) => [t, v > grand * 1e-9 ? v : 0]);
      const other = stats(OTHER, pts);
      if (other.total > grand * 1e-6 && this.rows.length >= TOP) { other.other = true; this.rows.push(other); }
      this.grand = this.rows.reduce((a, r) => a + r.total, 0);
    } catch (e) {
      this.rows = [];
      this.timeline.setError(e.message);
      this.app.showError(e);
    }
  }

  render(s, groupBy) {
    const fmt = this.app.format();
    const label = (r) => (r.other ? 'Other' : r.value || '(none)');
    const color = (r, i) => (r.other ? OTHER_COLOR : seriesColor(i));
    this.timeline.setSeries(this.rows.map((r, i) => ({ label: label(r), points: r.points, active: r.value === s.gv, color: color(r, i) })), fmt, this.step);
    const rows = this.rows.map((r, i) => `<tr data-testid="tag-row" data-value="${esc(r.value)}"${r.other ? ' data-other="true"' : ''} data-total="${r.total}" data-avg="${r.avg}" data-sd="${r.sd}" tabindex="0"${r.value === s.gv ? ' class="hl" aria-selected="true"' : ''}>`
      + `<td class="col-name"><span class="swatch" style="background:${color(r, i)}"></span>${r.other ? `<i>${esc(label(r))}</i>` : esc(label(r))}</td>`
      + `<td class="col-num">${esc(fmt(r.avg))}</td><td class="col-num">${esc(fmt(r.sd))}</td><td class="col-num">${esc(fmt(r.total))}</td>`
      + `<td class="col-num">${formatPercent(this.grand ? r.total / this.grand : 0)}</td></tr>`).join('');
    this.tableHost.innerHTML = `<table class="tt"><thead><tr><th class="col-name">${esc(groupBy || 'label')}</th><th class="col-num">Average</th><th class="col-num">Std. deviation</th><th class="col-num">Total</th><th class="col-num">Share</th></tr></thead>`
      + `<tbody>${rows || '<tr class="empty"><td colspan="5">No series for this label in the range</td></tr>'}</tbody></table>`;
    this.pieHost.innerHTML = pie(this.rows.map((r, i) => ({
      value: r.value, label: label(r), share: this.grand ? r.total / this.grand : 0, color: color(r, i), active: r.value === s.gv,
    })));
    this.actions.innerHTML = '';
    this.actions.hidden = !s.gv;
    if (s.gv) {
      const sel = this.selectorOf(s, groupBy);
      this.actions.append(
        h('span', {}, 'Selected ', h('code', { text: sel })),
        h('span', { class: 'spacer' }),
        h('button', { type: 'button', class: 'btn', text: 'Open in single view', 'data-testid': 'tag-single', onclick: () => this.app.navigate({ view: 'single', sel, gv: '', focus: '' }) }),
        h('button', { type: 'button', class: 'btn', text: 'Use as baseline', 'data-testid': 'tag-baseline', onclick: () => this.app.navigate({ view: 'diff', lsel: sel, lfrom: s.from, luntil: s.until, focus: '' }) }),
        h('button', { type: 'button', class: 'btn', text: 'Use as comparison', 'data-testid': 'tag-comparison', onclick: () => this.app.navigate({ view: 'diff', rsel: sel, rfrom: s.from, runtil: s.until, focus: '' }) }));
    }
  }

  // The selector of the picked value; Other is every value but the top ones.
  selectorOf(s, groupBy) {
    if (s.gv !== OTHER) return addMatcher(s.sel, groupBy, s.gv);
    return exceptValues(s.sel, groupBy, this.rows.filter((r) => !r.other).map((r) => r.value));
  }

  async updateFlame(s, groupBy, range, force) {
    const key = s.gv ? [s.query, s.sel, s.from, s.until, groupBy, s.gv].join('|') : '';
    if (!force && key === this.flameKey) return;
    this.flameKey = key;
    if (!key) { this.flame.setData(null); return; }
    this.flame.setLoading(true);
    try {
      const res = await rpc('SelectMergeStacktraces', mergeRequest(s, this.selectorOf(s, groupBy), range[0], range[1]));
      if (this.flameKey !== key) return;
      this.flame.setLoading(false);
      this.flame.setData(decodeFlamegraph(res.flamegraph), { format: this.app.format() });
    } catch (e) {
      this.flame.setLoading(false);
      this.flame.setError(e.message);
    }
  }

  focusSearch() {}

  destroy() { this.timeline.destroy(); this.flame.destroy(); this.el.remove(); }
}

// Total, average and (population) standard deviation of one series' points.
function stats(value, points) {
  const vals = points.map((p) => p[1]);
  const total = vals.reduce((a, b) => a + b, 0);
  const avg = vals.length ? total / vals.length : 0;
  const sd = vals.length ? Math.sqrt(vals.reduce((a, v) => a + (v - avg) ** 2, 0) / vals.length) : 0;
  return { value, points, total, avg, sd };
}

// A donut chart (SVG markup) of slices [{value, label, share, color, active}]; each slice
// is a <path data-value data-share> with a <title>.
function pie(slices) {
  const C = 80, R = 72, IN = 40;
  const pt = (rad, a) => `${(C + rad * Math.cos(a)).toFixed(2)} ${(C + rad * Math.sin(a)).toFixed(2)}`;
  const arc = (a0, a1) => {
    const big = a1 - a0 > Math.PI ? 1 : 0;
    return `M${pt(R, a0)}A${R} ${R} 0 ${big} 1 ${pt(R, a1)}L${pt(IN, a1)}A${IN} ${IN} 0 ${big} 0 ${pt(IN, a0)}Z`;
  };
  let a = -Math.PI / 2;
  const paths = slices.filter((sl) => sl.share > 0).map((sl) => {
    const a0 = a, a1 = a + sl.share * 2 * Math.PI;
    a = a1;
    // a whole circle is two half arcs (an arc cannot start and end at one point)
    const d = sl.share > 0.9999 ? arc(a0, a0 + Math.PI) + arc(a0 + Math.PI, a0 + 2 * Math.PI) : arc(a0, a1);
    return `<path d="${d}" fill="${sl.color}" data-value="${esc(sl.value)}" data-share="${sl.share}"${sl.active ? ' class="active"' : ''}><title>${esc(sl.label)}: ${formatPercent(sl.share)}</title></path>`;
  });
  return `<svg viewBox="0 0 160 160" width="160" height="160" role="img" aria-label="Share of each value">${paths.join('')}</svg>`;
}
