// Fornax UI entry point: owns the URL-backed state, the header (views, theme, tenant,
// help), the query bar and the error banner, and mounts the view the state asks for.

import { h, $, isTyping, dismissable, placeBelow } from './dom.js';
import { rpc, tenant, setTenant, onUnauthorized } from './api.js';
import { parseState, stateToHash } from './state.js';
import { resolveRange } from './time.js';
import { formatter, parseProfileType } from './format.js';
import { QueryBar } from './querybar.js';
import { SingleView } from './views/single.js';
import { ComparisonView } from './views/compare.js';
import { DiffView } from './views/diff.js';
import { TagsView } from './views/tags.js';

const LOGO = '<svg width="18" height="18" viewBox="0 0 16 16"><rect x="0" y="12" width="16" height="4" fill="#e8a13a"/><rect x="1" y="8" width="9" height="4" fill="#e0643a"/><rect x="10" y="8" width="5" height="4" fill="#d94f70"/><rect x="2" y="4" width="5" height="4" fill="#c8402f"/><rect x="3" y="0" width="3" height="4" fill="#a32d2d"/></svg>';
const VIEWS = { single: SingleView, comparison: ComparisonView, diff: DiffView, tags: TagsView };
const VIEW_LABELS = [['single', 'Single'], ['comparison', 'Comparison'], ['diff', 'Diff'], ['tags', 'Tag explorer']];
const PREFERRED_TYPES = ['process_cpu:cpu:nanoseconds:cpu:nanoseconds', 'wall:wall:nanoseconds:wall:nanoseconds'];

class App {
  constructor() {
    this.state = parseState(location.hash);
    this.profileTypes = [];
    this.view = null;
    this.viewName = '';
    this.tenantSeen = !!tenant();
    this.buildChrome();
    window.addEventListener('popstate', () => this.load());
    window.addEventListener('hashchange', () => this.load());
    document.addEventListener('keydown', (e) => this.onKey(e));
    document.addEventListener('fornax:error', (e) => this.showError(e.detail));
    onUnauthorized(() => { this.tenantSeen = true; this.renderTenant(true); });
  }

  // ---- state ------------------------------------------------------------------------

  // Merge a patch into the state and record it in the URL (a new history entry unless
  // replace), then update the page.
  navigate(patch, { replace = false } = {}) {
    const next = { ...this.state, ...patch };
    const hash = stateToHash(next);
    if (hash === stateToHash(this.state)) return;
    if (replace) history.replaceState(null, '', hash); else history.pushState(null, '', hash);
    this.state = parseState(hash);
    this.render(false);
  }

  load() {
    const s = parseState(location.hash);
    if (stateToHash(s) === stateToHash(this.state) && this.view) return;
    this.state = s;
    this.render(false);
  }

  refresh() { this.loadTypes(true); this.render(true); }

  range() { return resolveRange(this.state.from, this.state.until); }

  profileType() {
    return this.profileTypes.find((t) => t.ID === this.state.query) || parseProfileType(this.state.query);
  }

  format() { return formatter(this.profileType().sampleUnit); }

  // ---- chrome -----------------------------------------------------------------------

  buildChrome() {
    const root = $('#app');
    this.tabs = h('nav', { class: 'tabs', 'aria-label': 'Views' }, VIEW_LABELS.map(([v, label]) => h('a', {
      href: '#', 'data-view': v, 'data-testid': `tab-${v}`, text: label,
      onclick: (e) => { e.preventDefault(); this.navigate({ view: v, display: v === 'single' || v === 'diff' ? this.state.display : this.state.display === 'sandwich' ? 'both' : this.state.display }); },
    })));
    this.tenantBtn = h('button', { type: 'button', class: 'btn', 'data-testid': 'tenant', hidden: true, onclick: () => this.tenantDialog() });
    this.themeBtn = h('button', { type: 'button', class: 'btn icon', 'data-testid': 'theme', 'aria-label': 'Toggle light/dark theme', title: 'Light/dark theme (t)', onclick: () => this.toggleTheme() });
    const help = h('button', { type: 'button', class: 'btn icon', 'aria-label': 'Keyboard shortcuts', title: 'Keyboard shortcuts (?)', text: '?', onclick: () => this.help() });
    root.append(h('header', { class: 'top' },
      h('a', { class: 'brand', href: '#', title: 'Fornax', onclick: (e) => { e.preventDefault(); this.navigate({ view: 'single' }); } },
        h('span', { class: 'logo', 'aria-hidden': 'true', html: LOGO }), 'Fornax'),
      this.tabs, h('span', { class: 'spacer' }), this.tenantBtn, this.themeBtn, help));
    const qb = h('div', { class: 'qb-host' });
    root.append(qb);
    this.queryBar = new QueryBar(qb, this);
    this.banner = h('div', { class: 'banner', role: 'alert', 'data-testid': 'error', hidden: true });
    root.append(this.banner);
    this.main = h('main', { class: 'main', id: 'main' });
    root.append(this.main);
    this.renderTheme();
    this.renderTenant(false);
  }

  renderTheme() {
    const t = document.documentElement.dataset.theme;
    this.themeBtn.textContent = t === 'dark' ? '☀' : '☾';
  }

  toggleTheme() {
    const next = document.documentElement.dataset.theme === 'dark' ? 'light' : 'dark';
    document.documentElement.dataset.theme = next;
    try { localStorage.setItem('fornax.theme', next); } catch { /* private mode */ }
    this.renderTheme();
    document.dispatchEvent(new CustomEvent('fornax:theme'));
  }

  renderTenant(open) {
    const t = tenant();
    this.tenantBtn.hidden = !this.tenantSeen && !t;
    this.tenantBtn.textContent = t ? `Tenant: ${t}` : 'Set tenant';
    if (open) this.tenantDialog();
  }

  tenantDialog() {
    if (this.tenantPop) return;
    const input = h('input', { type: 'text', value: tenant(), 'aria-label': 'Tenant ID', 'data-testid': 'tenant-input', placeholder: 'tenant ID', spellcheck: 'false' });
    const save = () => {
      const v = input.value.trim();
      if (v && !/^[A-Za-z0-9!\-_.*'()]{1,150}$/.test(v)) { err.textContent = 'Tenant IDs use letters, digits and !-_.*\'() (at most 150).'; return; }
      setTenant(v);
      close();
      this.tenantSeen = true;
      this.renderTenant(false);
      this.clearError();
      this.refresh();
    };
    const err = h('div', { class: 'err' });
    input.addEventListener('keydown', (e) => { if (e.key === 'Enter') save(); });
    const pop = h('div', { class: 'menu-pop tenant-pop', role: 'dialog', 'aria-label': 'Tenant' },
      h('label', {}, 'Tenant (X-Scope-OrgID)', input),
      h('div', { class: 'muted small', text: 'Needed when the server runs with multi-tenancy on.' }), err,
      h('button', { type: 'button', class: 'btn primary', text: 'Use tenant', onclick: save }));
    this.tenantBtn.hidden = false;
    placeBelow(pop, this.tenantBtn);
    const undo = dismissable(pop, () => close(), this.tenantBtn);
    const close = () => { undo(); pop.remove(); this.tenantPop = null; };
    this.tenantPop = pop;
    input.focus();
  }

  showError(err) {
    if (!err || err.name === 'AbortError') return;
    this.banner.innerHTML = '';
    const msg = err.status === 401
      ? 'This server needs a tenant: set the X-Scope-OrgID to use.'
      : err.message || String(err);
    this.banner.append(h('span', { text: msg }));
    if (err.status === 401) this.banner.append(h('button', { type: 'button', class: 'btn', text: 'Set tenant', onclick: () => this.tenantDialog() }));
    this.banner.append(h('button', { type: 'button', class: 'btn icon', 'aria-label': 'Dismiss', text: '✕', onclick: () => this.clearError() }));
    this.banner.hidden = false;
  }

  clearError() { this.banner.hidden = true; }

  help() {
    const rows = [
      ['/', 'Search functions'], ['?', 'This help'], ['t', 'Toggle light/dark theme'],
      ['Tab', 'Move to the flame graph (or table)'],
      ['← → ↑ ↓', 'Move between bars (flame graph focused)'], ['Enter', 'Focus (zoom into) the bar'],
      ['Esc', 'Reset zoom, clear search, close menus'], ['s', 'Sandwich view of the bar or row'],
      ['e', 'Expand or fold the group of the bar (⊞n)'],
      ['Home', 'Back to the focused bar'],
      ['Mouse', 'Click a bar to zoom; right-click for more; drag on a timeline to pick a range'],
    ];
    const dlg = h('dialog', { class: 'help', 'aria-label': 'Keyboard shortcuts' },
      h('h3', { text: 'Keyboard shortcuts' }),
      h('table', {}, rows.map(([k, v]) => h('tr', {}, h('th', {}, h('kbd', { text: k })), h('td', { text: v })))),
      h('form', { method: 'dialog' }, h('button', { class: 'btn', text: 'Close' })));
    document.body.append(dlg);
    dlg.addEventListener('close', () => dlg.remove());
    dlg.showModal();
  }

  onKey(e) {
    if (isTyping(e) || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === '/') { e.preventDefault(); if (this.view && this.view.focusSearch) this.view.focusSearch(); }
    else if (e.key === '?') { e.preventDefault(); this.help(); }
    else if (e.key === 't' && !(e.target && e.target.classList && e.target.classList.contains('fg-canvas'))) this.toggleTheme();
    else if (e.key === 'Escape' && this.state.search) this.navigate({ search: '' });
  }

  // ---- data -------------------------------------------------------------------------

  async loadTypes(force) {
    let r;
    try { r = this.range(); } catch { r = [Date.now() - 3600e3, Date.now()]; }
    const start = Math.min(r[0], Date.now() - 7 * 86400e3);
    const key = Math.round(start / 3600e3);
    if (!force && this.typesKey === key) return;
    this.typesKey = key;
    try {
      const res = await rpc('ProfileTypes', { start, end: Math.max(r[1], Date.now()) });
      this.profileTypes = (res.profileTypes || []).slice().sort((a, b) => (a.ID < b.ID ? -1 : 1));
    } catch (e) {
      this.profileTypes = [];
      this.typesKey = null;
      this.showError(e);
    }
    this.queryBar.update(this.state, this.profileTypes);
    if (this.pickDefaultType()) this.render(false);
  }

  // With no profile type in the URL, take the preferred one the server has (recorded in
  // place, so the history has no extra entry). True when the state changed.
  pickDefaultType() {
    if (this.state.query || !this.profileTypes.length) return false;
    const ids = this.profileTypes.map((t) => t.ID);
    const pick = PREFERRED_TYPES.find((p) => ids.includes(p)) || ids[0];
    history.replaceState(null, '', stateToHash({ ...this.state, query: pick }));
    this.state = parseState(location.hash);
    return true;
  }

  async render(force) {
    this.pickDefaultType();
    const s = this.state;
    for (const a of this.tabs.children) a.setAttribute('aria-current', a.dataset.view === s.view ? 'page' : 'false');
    this.queryBar.update(s, this.profileTypes);
    const t = parseProfileType(s.query);
    const svc = /service_name\s*=\s*"([^"]*)"/.exec(s.sel);
    document.title = `${svc ? svc[1] + ' · ' : ''}${t.name ? t.name + ' ' + t.sampleType + ' · ' : ''}Fornax`;
    if (!s.query) {
      await this.loadTypes(false);
      if (!this.state.query) {
        if (!this.view) this.mount(s.view);
        this.view.update(s, this.prev || s, force);
      }
      return;
    }
    if (this.viewName !== s.view) this.mount(s.view);
    const prev = this.prev || s;
    this.prev = s;
    document.body.dataset.view = s.view;
    await this.view.update(s, prev, force);
    this.main.dataset.settled = String(Date.now());
  }

  mount(name) {
    if (this.view) this.view.destroy();
    this.viewName = name;
    this.view = new VIEWS[name](this.main, this);
  }
}

function initTheme() {
  let t = null;
  try { t = localStorage.getItem('fornax.theme'); } catch { /* private mode */ }
  if (t !== 'dark' && t !== 'light') t = matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
  document.documentElement.dataset.theme = t;
}

initTheme();
const app = new App();
window.fornax = app; // for debugging from the console
if (app.state.query) app.render(false);
app.loadTypes(false).then(() => { if (!app.view) app.render(false); });
