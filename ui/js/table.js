// Top table: functions aggregated by name, sortable by any column. Single view shows
// Self and Total; diff view shows Baseline, Comparison and Diff (shares of each side's
// total) and Δ self, the change of the function's self share in percentage points, which
// it sorts by: the functions that themselves take more of the time come first. Clicking a row highlights that function; double-click opens the sandwich view.

import { h, esc } from './dom.js';
import { formatPercent, formatChange, formatPoints } from './format.js';
import { diffClass } from './colors.js';

const PAGE = 300;

export class TopTable {
  // opts: pane, onSelect(name), onSandwich(name), format(v)
  constructor(host, opts = {}) {
    this.opts = opts;
    this.format = opts.format || String;
    this.el = h('div', { class: 'toptable', 'data-testid': 'top-table', 'data-pane': opts.pane || 'main' });
    this.table = h('table', { class: 'tt' });
    this.more = h('button', { type: 'button', class: 'link tt-more', hidden: true, onclick: () => { this.limit = Infinity; this.renderRows(); } });
    this.el.append(this.table, this.more);
    host.append(this.el);
    this.rows = [];
    this.sort = null;
    this.limit = PAGE;
    this.matched = null;
    this.selected = '';
    this.table.addEventListener('click', (e) => {
      const th = e.target.closest('th[data-key]');
      if (th) { this.toggleSort(th.dataset.key); return; }
      const tr = e.target.closest('tr[data-name]');
      if (tr && this.opts.onSelect) this.opts.onSelect(tr.dataset.name);
    });
    this.table.addEventListener('dblclick', (e) => {
      const tr = e.target.closest('tr[data-name]');
      if (tr && this.opts.onSandwich) this.opts.onSandwich(tr.dataset.name);
    });
    this.table.addEventListener('keydown', (e) => {
      const th = e.target.closest('th[data-key]');
      if (th && (e.key === 'Enter' || e.key === ' ')) {
        e.preventDefault();
        this.toggleSort(th.dataset.key);
        const again = this.table.querySelector(`th[data-key="${th.dataset.key}"]`);
        if (again) again.focus();
        return;
      }
      const tr = e.target.closest('tr[data-name]');
      if (!tr) return;
      if (e.key === 'Enter' && this.opts.onSelect) this.opts.onSelect(tr.dataset.name);
      else if (e.key === 's' && this.opts.onSandwich) this.opts.onSandwich(tr.dataset.name);
      else if (e.key === 'ArrowDown' && tr.nextElementSibling) tr.nextElementSibling.focus();
      else if (e.key === 'ArrowUp' && tr.previousElementSibling) tr.previousElementSibling.focus();
      else return;
      e.preventDefault();
    });
  }

  columns() {
    if (this.kind === 'diff') {
      return [['name', 'Symbol'], ['lShare', 'Baseline'], ['rShare', 'Comparison'], ['diff', 'Diff'], ['selfDelta', 'Δ self']];
    }
    return [['name', 'Symbol'], ['self', 'Self'], ['total', 'Total']];
  }

  setData(data, format) {
    if (format) this.format = format;
    this.data = data;
    this.kind = data ? data.kind : 'single';
    this.rows = data && !data.empty ? data.topTable() : [];
    this.rootTotal = data ? data.rootTotal : 0;
    if (!this.sort || !this.columns().some(([k]) => k === this.sort.key)) {
      this.sort = this.kind === 'diff' ? { key: 'selfDelta', desc: true } : { key: 'self', desc: true };
    }
    this.limit = PAGE;
    this.sortRows();
    this.renderRows();
  }

  // The sandwich function gets a marker.
  setSelected(name) {
    if (name === this.selected) return;
    this.selected = name || '';
    this.renderRows();
  }

  setSearch(matchedNames) {
    this.matched = matchedNames;
    this.renderRows();
  }

  toggleSort(key) {
    if (this.sort.key === key) this.sort.desc = !this.sort.desc;
    else this.sort = { key, desc: key !== 'name' };
    this.sortRows();
    this.renderRows();
  }

  sortRows() {
    const { key, desc } = this.sort;
    const dir = desc ? -1 : 1;
    this.rows.sort(key === 'name'
      ? (a, b) => dir * (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
      : (a, b) => dir * (a[key] - b[key]) || (a.name < b.name ? -1 : 1));
  }

  renderRows() {
    const cols = this.columns();
    const f = this.format, T = this.rootTotal || 1;
    const head = `<thead><tr>${cols.map(([k, label]) => {
      const s = this.sort.key === k ? (this.sort.desc ? 'descending' : 'ascending') : 'none';
      return `<th data-key="${k}" aria-sort="${s}" tabindex="0" class="${k === 'name' ? 'col-name' : 'col-num'}">${label}${s === 'none' ? '' : s === 'descending' ? ' ▾' : ' ▴'}</th>`;
    }).join('')}</tr></thead>`;
    const matchedSet = this.matchedSet();
    const shown = this.rows.slice(0, this.limit);
    const body = shown.map((r) => {
      const cls = [matchedSet && matchedSet.has(r.name) ? 'hl' : '', r.name === this.selected ? 'sel' : ''].filter(Boolean).join(' ');
      const hl = cls ? ` class="${cls}"` : '';
      let cells;
      if (this.kind === 'diff') {
        cells = `<td class="col-num">${formatPercent(r.lShare)}</td><td class="col-num">${formatPercent(r.rShare)}</td>`
          + `<td class="col-num diff-${diffClass(r.diff)}">${formatChange(r.diff)}</td>`
          + `<td class="col-num diff-${r.selfDelta > 5e-4 ? 'grew' : r.selfDelta < -5e-4 ? 'shrank' : 'same'}">${formatPoints(r.selfDelta)}</td>`;
      } else {
        const cell = (v) => (v ? `<td class="col-num"><span class="bar" style="--w:${(v / T * 100).toFixed(2)}%"></span>${esc(f(v))} <span class="muted pct">${formatPercent(v / T)}</span></td>` : '<td class="col-num muted">–</td>');
        cells = cell(r.self) + cell(r.total);
      }
      const diffAttrs = this.kind === 'diff' ? ` data-baseline="${r.lShare}" data-comparison="${r.rShare}" data-diff="${r.diff.toFixed(2)}" data-self-delta="${r.selfDelta}"` : '';
      return `<tr data-testid="top-row" data-name="${esc(r.name)}" data-self="${r.self}" data-total="${r.total}"${diffAttrs} tabindex="0"${hl}><td class="col-name" title="${esc(r.name)}">${esc(r.name)}</td>${cells}</tr>`;
    }).join('');
    this.table.innerHTML = head + `<tbody>${body || `<tr class="empty"><td colspan="${cols.length}">No data</td></tr>`}</tbody>`;
    this.more.hidden = this.rows.length <= shown.length;
    this.more.textContent = `Show all ${this.rows.length} functions`;
  }

  matchedSet() {
    if (!this.matched || !this.data) return null;
    const s = new Set();
    this.data.names.forEach((nm, k) => { if (this.matched[k]) s.add(nm); });
    return s;
  }

  destroy() { this.el.remove(); }
}
