// The Explain panel: asks POST /api/v1/explain about the flame graph (or diff) on screen
// and shows the three findings — bottleneck, root cause, recommended fix — plus evidence
// and, for a diff, the changes. The named functions are handed back to be outlined in the
// flame graph.

import { h, esc } from './dom.js';
import { explain } from './api.js';
import { renderMarkdown } from './markdown.js';
import { formatPercent, formatChange } from './format.js';
import { diffPercent } from './flamedata.js';
import { diffClass } from './colors.js';

export class ExplainPanel {
  // opts: onMarks(names[]), onClose(), onSearchName(name)
  constructor(host, opts) {
    this.opts = opts;
    this.el = h('aside', { class: 'explain', 'data-testid': 'explain-panel', 'data-state': 'idle', 'aria-label': 'Explanation', hidden: true });
    this.body = h('div', { class: 'explain-body', 'aria-live': 'polite' });
    this.el.append(
      h('div', { class: 'explain-head' },
        h('h3', { text: 'Explain' }),
        this.engine = h('span', { class: 'badge', hidden: true }),
        h('button', { type: 'button', class: 'btn icon', 'aria-label': 'Close explanation', title: 'Close', text: '✕', onclick: () => this.opts.onClose() })),
      this.body);
    host.append(this.el);
    this.el.addEventListener('click', (e) => {
      const fn = e.target.closest('[data-fn]');
      if (fn && this.opts.onSearchName) this.opts.onSearchName(fn.dataset.fn);
    });
  }

  // Fetch unless the same request is already shown.
  async load(req) {
    const key = JSON.stringify(req);
    this.el.hidden = false;
    if (key === this.key && this.el.dataset.state !== 'error') return;
    this.key = key;
    if (this.ctrl) this.ctrl.abort();
    const ctrl = this.ctrl = new AbortController();
    this.el.dataset.state = 'loading';
    this.engine.hidden = true;
    this.body.innerHTML = '<p class="muted">Reading the flame graph…</p>';
    try {
      const res = await explain(req, ctrl.signal);
      if (ctrl.signal.aborted) return;
      this.show(res);
    } catch (e) {
      if (e.name === 'AbortError') return;
      this.el.dataset.state = 'error';
      const msg = e.status === 404 || e.status === 405 ? 'The explain API is not available on this server.' : e.message;
      this.body.innerHTML = `<p class="err">${esc(msg)}</p>`;
      this.opts.onMarks([]);
    }
  }

  show(res) {
    const names = [];
    const fnLink = (f) => (f ? `<button type="button" class="link fn" data-fn="${esc(f)}" title="Highlight in the flame graph"><code>${esc(f)}</code></button>` : '');
    const b = res.bottleneck || {}, rc = res.root_cause || {}, fix = res.recommended_fix || {};
    if (b.function) names.push(b.function);
    const parts = [];
    parts.push(`<section data-testid="explain-bottleneck"><h4>Bottleneck</h4>${fnLink(b.function)}${renderMarkdown(b.markdown)}</section>`);
    parts.push(`<section data-testid="explain-root-cause"><h4>Root cause ${rc.category ? `<span class="badge cat">${esc(rc.category)}</span>` : ''}</h4>${renderMarkdown(rc.markdown)}</section>`);
    parts.push(`<section data-testid="explain-fix"><h4>Recommended fix</h4>${renderMarkdown(fix.markdown)}</section>`);
    const changes = Array.isArray(res.changes) ? res.changes : [];
    if (changes.length) {
      const rows = changes.map((c) => {
        if (c.function) names.push(c.function);
        const l = Number(c.baseline_share) || 0, r = Number(c.comparison_share) || 0, p = diffPercent(l, r);
        return `<tr><td>${fnLink(c.function)}</td><td class="col-num">${formatPercent(l)}</td><td class="col-num">${formatPercent(r)}</td><td class="col-num diff-${diffClass(p)}">${formatChange(p)}</td></tr>`;
      }).join('');
      parts.push(`<section data-testid="explain-changes"><h4>Changes</h4><table class="tt small"><thead><tr><th>Function</th><th class="col-num">Baseline</th><th class="col-num">Comparison</th><th class="col-num">Diff</th></tr></thead><tbody>${rows}</tbody></table></section>`);
    }
    const ev = Array.isArray(res.evidence) ? res.evidence : [];
    if (ev.length) {
      const item = (e) => (typeof e === 'string' ? renderMarkdown(e).replace(/^<p>|<\/p>$/g, '')
        : esc(Object.entries(e || {}).map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`).join(', ')));
      parts.push(`<section data-testid="explain-evidence"><details><summary>Evidence (${ev.length})</summary><ul>${ev.map((e) => `<li>${item(e)}</li>`).join('')}</ul></details></section>`);
    }
    this.body.innerHTML = parts.join('');
    if (res.engine) { this.engine.hidden = false; this.engine.textContent = res.engine; }
    this.el.dataset.state = 'ready';
    this.el.dataset.functions = names.join(';');
    this.opts.onMarks(names);
  }

  hide() {
    if (this.ctrl) this.ctrl.abort();
    this.el.hidden = true;
    this.key = null;
    this.el.dataset.state = 'idle';
  }

  destroy() { this.hide(); this.el.remove(); }
}
