// Canvas flame graph widget: draws a FlameData, handles hover tooltips, click-to-focus
// with an animated zoom, search highlighting, explain marks, collapsed single-child
// chains (expandable per group or all at once), a context menu and keyboard
// navigation. Each frame draws only bars that overlap the view and are at least MIN_W
// wide, batched by fill colour; the list of drawn bars is mirrored into a hidden
// <ol data-testid="flame-nodes"> once the picture settles, so tests read the graph from
// the DOM instead of pixels.

import { h, esc, dismissable } from './dom.js';
import { paletteIndex, palette, diffBucket, diffColor, diffClass, themeColors, heatBucket, heatColor, PALETTE_SIZE } from './colors.js';
import { formatPercent, formatChange, formatPoints } from './format.js';
import { diffPercent } from './flamedata.js';

const ROW = 18; // bar height in CSS px, gap included
const MIN_W = 0.5; // bars narrower than this are skipped
const FONT = '12px ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", monospace';
const ANIM_MS = 180;
// Colour keys: palette 0..23 (single) or diff buckets 0..20; then fixed ones.
const K_ROOT = 24, K_OTHER = 25, K_DIM = 26, K_COUNT = 27;

export class FlameGraph {
  // opts: pane (data-pane name), inverted (root at the bottom, for callers),
  // onFocus(path), onSandwich(name), onSearchName(name), onCollapseAll(on) (expand/collapse
  // all groups; without it the widget does it alone), format(value) -> string,
  // label (accessible name), collapse (fold single-child chains; default true),
  // colorMode ('package', or 'self': a heat scale of each frame's self time).
  constructor(host, opts = {}) {
    this.opts = opts;
    this.el = h('div', { class: 'fg', 'data-testid': 'flamegraph', 'data-pane': opts.pane || 'main', 'data-state': 'empty', 'data-render-count': '0' });
    this.canvas = h('canvas', { class: 'fg-canvas', tabindex: '0', role: 'img', 'aria-label': opts.label || 'Flame graph' });
    this.tip = h('div', { class: 'fg-tip', role: 'tooltip', hidden: true });
    this.list = h('ol', { class: 'fg-nodes', 'data-testid': 'flame-nodes', hidden: true });
    this.live = h('div', { class: 'sr-only', 'aria-live': 'polite' });
    this.msg = h('div', { class: 'fg-msg', hidden: true });
    this.el.append(this.msg, this.canvas, this.tip, this.list, this.live);
    host.append(this.el);
    this.ctx = this.canvas.getContext('2d', { alpha: false });
    this.data = null;
    this.format = opts.format || String;
    this.focus = 0;
    this.view = [0, 1];
    this.anim = null;
    this.hover = -1;
    this.sel = -1;
    this.matched = null;
    this.searchActive = false;
    this.marked = null;
    this.colorBlind = false;
    this.collapse = opts.collapse !== false;
    this.colorMode = opts.colorMode === 'self' ? 'self' : 'package';
    this.flip = null; // per chain top: 1 = the opposite of this.collapse
    this.lay = null;
    this.drawn = new Int32Array(0);
    this.drawnCount = 0;
    this.renderCount = 0;
    this.pending = 0;
    this.listTimer = 0;
    this.lastDrawMs = 0;
    this.readTheme();
    this.bind();
  }

  bind() {
    const c = this.canvas;
    c.addEventListener('mousemove', (e) => this.onMove(e));
    c.addEventListener('mouseleave', () => { this.setHover(-1); this.hideTip(); });
    c.addEventListener('click', (e) => {
      const i = this.hit(e);
      if (i >= 0) { this.sel = i; this.focusNode(i, true); }
    });
    c.addEventListener('contextmenu', (e) => {
      const i = this.hit(e);
      if (i < 0) return;
      e.preventDefault();
      this.menu(i, e.clientX, e.clientY);
    });
    c.addEventListener('keydown', (e) => this.onKey(e));
    // keyboard focus (not a mouse click) puts the cursor on the focused bar
    c.addEventListener('focus', () => { if (this.sel < 0 && this.data && this.data.n && c.matches(':focus-visible')) this.select(this.focus); });
    c.addEventListener('blur', () => this.hideTip());
    this.ro = new ResizeObserver(() => this.invalidate());
    this.ro.observe(this.el);
    this.onTheme = () => { this.readTheme(); this.invalidate(); };
    document.addEventListener('fornax:theme', this.onTheme);
  }

  destroy() {
    this.ro.disconnect();
    document.removeEventListener('fornax:theme', this.onTheme);
    clearTimeout(this.listTimer);
    cancelAnimationFrame(this.pending);
    if (this.closeMenu) this.closeMenu();
    this.el.remove();
  }

  readTheme() {
    this.themeGen = (this.themeGen || 0) + 1; // the list shows fills: rewrite it
    this.colors = themeColors();
    const pal = palette(this.colors.theme);
    this.fills = new Array(K_COUNT);
    this.textFor = new Array(K_COUNT);
    for (let k = 0; k < PALETTE_SIZE; k++) { this.fills[k] = pal[k]; this.textFor[k] = this.colors.text; }
    if (this.heat()) {
      for (let k = 0; k < PALETTE_SIZE; k++) {
        this.fills[k] = heatColor(k, this.colors.theme);
        if (k > 15 && this.colors.theme !== 'dark') this.textFor[k] = '#fff';
      }
    }
    if (this.data && this.data.kind === 'diff') {
      for (let k = 0; k <= 20; k++) {
        this.fills[k] = diffColor(k, this.colorBlind);
        this.textFor[k] = k >= 8 && k <= 12 ? '#111' : '#fff';
      }
    }
    this.fills[K_ROOT] = this.colors.root; this.textFor[K_ROOT] = this.colors.text;
    this.fills[K_OTHER] = this.colors.other; this.textFor[K_OTHER] = this.colors.text;
    this.fills[K_DIM] = this.colors.dim; this.textFor[K_DIM] = this.colors.dimText;
  }

  // ---- data and state -------------------------------------------------------------

  setData(data, { format, focusPath } = {}) {
    this.data = data;
    this.gen = (this.gen || 0) + 1;
    if (format) this.format = format;
    this.hover = -1; this.sel = -1; this.anim = null;
    this.flip = null;
    this.drawn = new Int32Array(data ? data.n : 0);
    const names = data ? data.names : [];
    this.nameKey = new Uint8Array(names.length);
    names.forEach((nm, k) => { this.nameKey[k] = nm === 'total' && k === 0 ? K_ROOT : nm === 'other' ? K_OTHER : paletteIndex(nm); });
    this.nodeKeys();
    this.readTheme();
    if (this.matched && data) this.setSearch(this.searchQuery);
    if (this.markedNames) this.setMarked(this.markedNames);
    this.focus = 0;
    if (focusPath && focusPath.length && data) { const f = data.findPath(focusPath); if (f > 0) this.focus = f; }
    this.relayout();
    this.view = this.targetView();
    const empty = !data || data.empty;
    this.msg.hidden = !empty;
    this.msg.textContent = empty ? (this.opts.emptyText || 'No profiling data for this query and time range.') : '';
    this.canvas.hidden = empty;
    this.el.dataset.state = empty ? 'empty' : 'drawing';
    this.el.dataset.total = data ? String(data.rootTotal) : '0';
    this.el.dataset.focus = this.focusPathString();
    this.invalidate();
  }

  heat() { return this.colorMode === 'self' && !(this.data && this.data.kind === 'diff'); }

  // Per-node colour keys where the colour is not by name: diff buckets, or self-time heat.
  nodeKeys() {
    const data = this.data;
    this.nodeKey = null; this.nodeDiff = null;
    if (data && data.kind === 'diff') {
      this.nodeKey = new Uint8Array(data.n);
      this.nodeDiff = new Float32Array(data.n);
      for (let i = 0; i < data.n; i++) {
        const p = diffPercent(data.leftTicks ? data.lTotal[i] / data.leftTicks : 0, data.rightTicks ? data.rTotal[i] / data.rightTicks : 0);
        this.nodeDiff[i] = p;
        this.nodeKey[i] = diffBucket(p);
      }
    } else if (data && this.heat()) {
      let max = 0;
      for (let i = 1; i < data.n; i++) if (data.self[i] > max) max = data.self[i];
      this.nodeKey = new Uint8Array(data.n);
      for (let i = 0; i < data.n; i++) {
        const nk = this.nameKey[data.name[i]];
        this.nodeKey[i] = nk === K_ROOT || nk === K_OTHER ? nk : heatBucket(data.self[i], max);
      }
    }
  }

  setColorMode(mode) {
    mode = mode === 'self' ? 'self' : 'package';
    this.el.dataset.colorMode = mode;
    if (mode === this.colorMode) return;
    this.colorMode = mode;
    this.nodeKeys(); this.readTheme(); this.invalidate();
  }

  setLoading(on) {
    if (on) this.el.dataset.state = 'loading';
    else if (this.el.dataset.state === 'loading') this.el.dataset.state = 'drawing';
    this.el.classList.toggle('is-loading', !!on);
  }

  setError(message) {
    this.data = null;
    this.el.dataset.state = 'error';
    this.msg.hidden = false;
    this.msg.textContent = message;
    this.canvas.hidden = true;
    this.list.innerHTML = '';
  }

  setColorBlind(on) {
    this.colorBlind = !!on;
    this.el.dataset.palette = on ? 'colorblind' : 'default';
    this.readTheme(); this.invalidate();
  }

  // Fold (on) or show (off) every single-child chain; per-group choices are dropped.
  setCollapse(on) {
    on = !!on;
    if (on === this.collapse && !this.flip) return;
    this.collapse = on; this.flip = null;
    this.relayout(); this.invalidate();
  }

  // Expand or fold the chain node i belongs to.
  toggleGroup(i) {
    const d = this.data;
    if (!d || i <= 0) return;
    d.chains();
    const t = d.chainTop[i];
    if (!d.hasChain[t]) return;
    if (!this.flip) this.flip = new Uint8Array(d.n);
    this.flip[t] ^= 1;
    this.relayout(); this.invalidate();
  }

  // Recompute the display rows: search matches, explain marks and the focus stay visible.
  relayout() {
    const d = this.data;
    this.layGen = (this.layGen || 0) + 1;
    this.el.dataset.collapse = this.collapse ? 'on' : 'off';
    if (!d) { this.lay = null; return; }
    let keep = null;
    if (this.matched || this.marked) {
      keep = new Uint8Array(d.names.length);
      for (let k = 0; k < keep.length; k++) keep[k] = (this.matched && this.matched[k]) || (this.marked && this.marked[k]) ? 1 : 0;
    }
    this.lay = d.layout(this.collapse, this.flip, keep, this.focus);
    if (this.hover >= 0 && this.lay.hidden[this.hover]) this.hover = -1;
    if (this.sel >= 0 && this.lay.hidden[this.sel]) this.sel = -1;
  }

  // Names folded under visible node i, top down.
  groupNames(i) {
    const d = this.data, lay = this.lay, out = [];
    for (let c = d.firstChild[i]; c >= 0 && lay.hidden[c]; c = d.firstChild[c]) out.push(d.nameOf(c));
    return out;
  }

  // Search: returns {count, share, lShare, rShare, error} for the match summary.
  setSearch(query) {
    this.searchQuery = query;
    this.searchGen = (this.searchGen || 0) + 1;
    const d = this.data;
    if (!d) return { count: 0, share: 0 };
    const m = d.matchNames(query);
    this.searchActive = m.active && !m.error;
    this.matched = this.searchActive ? m.matched : null;
    this.relayout();
    this.invalidate();
    if (!this.searchActive) { this.el.dataset.matchShare = ''; return { count: 0, share: 0, error: m.error }; }
    const s = d.matchShare(m.matched);
    this.el.dataset.matchShare = String(s.share);
    return s;
  }

  // Explain marks: outlined bars for the named functions.
  setMarked(names) {
    const next = names && names.length ? names : null;
    if (this.marked && next && next.join('\n') === (this.markedNames || []).join('\n') && this.markedFor === this.data) return;
    if (!next && !this.markedNames) return;
    this.markedNames = next;
    this.markedFor = this.data;
    this.markGen = (this.markGen || 0) + 1;
    const d = this.data;
    this.marked = null;
    if (d && this.markedNames) {
      this.marked = new Uint8Array(d.names.length);
      const set = new Set(this.markedNames);
      d.names.forEach((nm, k) => { if (set.has(nm)) this.marked[k] = 1; });
    }
    this.relayout();
    this.invalidate();
  }

  focusPathString() {
    return this.data && this.focus > 0 ? this.data.pathOf(this.focus).join(';') : '';
  }

  setFocusPath(path, animate = true) {
    const d = this.data;
    if (!d) return;
    const f = path && path.length ? d.findPath(path) : 0;
    if (f >= 0 && f !== this.focus) this.focusNode(f, false, animate);
  }

  // Zoom so node i fills the width; notify the owner (which records it in the URL).
  focusNode(i, notify, animate = true) {
    const d = this.data;
    if (!d || i < 0 || i >= d.n) return;
    this.focus = i;
    if (this.lay && this.lay.hidden[i]) this.relayout();
    this.el.dataset.focus = this.focusPathString();
    const to = this.targetView();
    if (animate && !matchMedia('(prefers-reduced-motion: reduce)').matches) {
      this.anim = { from: this.view.slice(), to, t0: performance.now() };
    } else {
      this.anim = null; this.view = to;
    }
    this.invalidate();
    if (notify && this.opts.onFocus) this.opts.onFocus(i > 0 ? d.pathOf(i) : []);
  }

  resetZoom(notify = true) { this.focusNode(0, notify); }

  targetView() {
    const d = this.data;
    if (!d || !d.n) return [0, 1];
    return [d.x[this.focus], d.x[this.focus] + Math.max(d.total[this.focus], 1e-9)];
  }

  // ---- drawing ---------------------------------------------------------------------

  invalidate() {
    if (this.data && !this.data.empty && this.el.dataset.state !== 'loading') this.el.dataset.state = 'drawing';
    if (this.pending) return;
    this.pending = requestAnimationFrame(() => { this.pending = 0; this.draw(); });
  }

  // The canvas's CSS width (the drawing coordinate system); the box may have padding.
  cssWidth() {
    return this.canvas.clientWidth || Math.max(0, this.el.clientWidth - 8);
  }

  // Top of the bar of node i (display rows, so folded chains take one row).
  barY(i) {
    const r = this.lay.row[i];
    return this.opts.inverted ? (this.lay.maxRow - r) * ROW : r * ROW;
  }

  draw() {
    const d = this.data;
    if (!d || d.empty) { this.scheduleList(); return; }
    const t0 = performance.now();
    if (this.anim) {
      const t = Math.min(1, (t0 - this.anim.t0) / ANIM_MS);
      const e = 1 - (1 - t) ** 3;
      const { from, to } = this.anim;
      this.view = [from[0] + (to[0] - from[0]) * e, from[1] + (to[1] - from[1]) * e];
      if (t >= 1) this.anim = null; else this.invalidate();
    }
    const W = Math.max(1, this.cssWidth());
    const lay = this.lay;
    const H = (lay.maxRow + 1) * ROW;
    const dpr = window.devicePixelRatio || 1;
    const c = this.canvas, ctx = this.ctx;
    if (c.width !== Math.round(W * dpr) || c.height !== Math.round(H * dpr)) {
      c.width = Math.round(W * dpr); c.height = Math.round(H * dpr);
      c.style.height = `${H}px`;
    }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = this.colors.bg;
    ctx.fillRect(0, 0, W, H);

    const [v0, v1] = this.view;
    const scale = W / (v1 - v0);
    const { x, total, name } = d;
    const { order: rows, rowStart, folded } = lay;
    const fDepth = d.depth[this.focus];
    const keyOf = this.nodeKey, nameKey = this.nameKey, matched = this.matched;
    // pass 1: collect drawn bars and count them per colour key
    const drawn = this.drawn;
    const counts = new Int32Array(K_COUNT + 1);
    const keys = this.keysBuf && this.keysBuf.length >= d.n ? this.keysBuf : (this.keysBuf = new Uint8Array(d.n));
    let nd = 0;
    for (let r = 0; r <= lay.maxRow; r++) {
      const s = rowStart[r], e = rowStart[r + 1];
      // first node whose end is past v0: ends increase along a row
      let lo = s, hi = e;
      while (lo < hi) { const m = (lo + hi) >> 1, j = rows[m]; if (x[j] + total[j] <= v0) lo = m + 1; else hi = m; }
      for (let q = lo; q < e; q++) {
        const i = rows[q];
        if (x[i] >= v1) break;
        if (total[i] * scale < MIN_W) continue;
        let k = keyOf ? keyOf[i] : nameKey[name[i]];
        if (matched && !matched[name[i]] && i !== 0) k = K_DIM;
        keys[i] = k;
        drawn[nd++] = i;
        counts[k]++;
      }
    }
    this.drawnCount = nd;
    // pass 2: fill bars batched by colour (ancestors of the focus are faded)
    const order = new Int32Array(nd);
    const start = new Int32Array(K_COUNT + 1);
    for (let k = 1; k <= K_COUNT; k++) start[k] = start[k - 1] + counts[k - 1];
    const pos = start.slice();
    for (let q = 0; q < nd; q++) { const i = drawn[q]; order[pos[keys[i]]++] = i; }
    for (let k = 0; k < K_COUNT; k++) {
      if (start[k] === start[k + 1]) continue;
      ctx.fillStyle = this.fills[k];
      ctx.beginPath();
      for (let q = start[k]; q < start[k + 1]; q++) {
        const i = order[q];
        let px = (x[i] - v0) * scale, w = total[i] * scale;
        if (px < 0) { w += px; px = 0; }
        if (px + w > W) w = W - px;
        ctx.rect(px, this.barY(i), w > 2 ? w - 1 : w, ROW - 1);
      }
      ctx.fill();
    }
    // faded ancestors: a translucent veil over them
    if (fDepth > 0) {
      ctx.fillStyle = this.colors.theme === 'dark' ? 'rgba(0,0,0,0.45)' : 'rgba(255,255,255,0.55)';
      for (let a = d.parent[this.focus]; a >= 0; a = d.parent[a]) if (!lay.hidden[a]) ctx.fillRect(0, this.barY(a), W, ROW - 1);
    }
    // pass 3: labels, keeping the end of long names (where the function name is)
    ctx.font = FONT;
    ctx.textBaseline = 'middle';
    if (!this.charW) this.charW = ctx.measureText('MMMMMMMMMM').width / 10 || 7;
    const cw = this.charW;
    for (let k = 0; k < K_COUNT; k++) {
      if (start[k] === start[k + 1]) continue;
      ctx.fillStyle = this.textFor[k];
      for (let q = start[k]; q < start[k + 1]; q++) {
        const i = order[q];
        let px = (x[i] - v0) * scale, w = total[i] * scale;
        if (px < 0) { w += px; px = 0; }
        if (px + w > W) w = W - px;
        const chars = Math.floor((w - 6) / cw);
        if (chars < 3) continue;
        let nm = d.names[name[i]];
        // a folded chain says how many frames it hides: "name ⊞3"
        const more = folded[i] ? ` ⊞${folded[i]}` : '';
        if (more && chars >= more.length + 4) nm = (nm.length + more.length <= chars ? nm : '…' + nm.slice(nm.length - chars + more.length + 1)) + more;
        const label = nm.length <= chars ? nm : '…' + nm.slice(nm.length - chars + 1);
        ctx.fillText(label, px + 3, this.barY(i) + ROW / 2);
      }
    }
    // pass 4: outlines for explain marks, hover and keyboard selection
    if (this.marked) {
      ctx.strokeStyle = this.colors.mark; ctx.lineWidth = 2;
      for (let q = 0; q < nd; q++) { const i = drawn[q]; if (this.marked[name[i]]) this.strokeBar(i, W, scale); }
    }
    ctx.lineWidth = 1.5;
    if (this.hover >= 0) { ctx.strokeStyle = this.colors.outline; this.strokeBar(this.hover, W, scale); }
    if (this.sel >= 0 && document.activeElement === this.canvas) { ctx.strokeStyle = this.colors.focus; ctx.lineWidth = 2.5; this.strokeBar(this.sel, W, scale); }
    this.lastDrawMs = performance.now() - t0;
    // hover and keyboard-cursor redraws do not change the list; skip rebuilding it
    const key = `${this.gen}|${v0}|${v1}|${W}|${this.searchGen}|${this.markGen}|${this.layGen}|${this.themeGen}`;
    if (!this.anim && key !== this.listKey) { this.listKey = key; this.scheduleList(); }
    else if (!this.anim && !this.listPending && this.el.dataset.state === 'drawing') this.el.dataset.state = 'ready';
  }

  strokeBar(i, W, scale) {
    const d = this.data;
    let px = (d.x[i] - this.view[0]) * scale, w = d.total[i] * scale;
    if (px < 0) { w += px; px = 0; }
    if (px + w > W) w = W - px;
    if (w <= 0) return;
    this.ctx.strokeRect(px + 1, this.barY(i) + 1, Math.max(1, w - 3), ROW - 3);
  }

  // Mirror the drawn bars into the hidden list (debounced: hover redraws do not rebuild it).
  scheduleList() {
    this.listPending = true;
    clearTimeout(this.listTimer);
    this.listTimer = setTimeout(() => this.writeList(), 30);
  }

  writeList() {
    this.listPending = false;
    const d = this.data;
    const parts = [];
    if (d && !d.empty) {
      const W = Math.max(1, this.cssWidth()), [v0, v1] = this.view, scale = W / (v1 - v0);
      const diff = d.kind === 'diff';
      const ordered = Array.from(this.drawn.subarray(0, this.drawnCount)).sort((a, b) => a - b);
      for (const i of ordered) {
        const k = this.keys(i);
        const nm = d.names[d.name[i]];
        const hl = this.matched ? (this.matched[d.name[i]] ? 'true' : 'false') : 'false';
        let cls = k === K_DIM ? 'dim' : k === K_ROOT ? 'root' : k === K_OTHER ? 'other' : diff ? 'diff-' + diffClass(this.nodeDiff[i]) : (this.heat() ? 'heat-' : 'pkg-') + k;
        if (diff && i === 0 && k !== K_DIM) cls = 'diff-' + diffClass(this.nodeDiff[0]);
        let extra = '';
        if (diff) {
          const ls = d.leftTicks ? d.lTotal[i] / d.leftTicks : 0, rs = d.rightTicks ? d.rTotal[i] / d.rightTicks : 0;
          extra = ` data-baseline="${ls}" data-comparison="${rs}" data-diff="${this.nodeDiff[i].toFixed(2)}" data-left="${d.lTotal[i]}" data-right="${d.rTotal[i]}"`;
        }
        const px = Math.max(0, (d.x[i] - v0) * scale);
        const fold = this.lay.folded[i];
        if (fold) extra += ` data-collapsed="${fold}" data-group="${esc(this.groupNames(i).join(';'))}"`;
        parts.push(`<li data-name="${esc(nm)}" data-depth="${d.depth[i]}" data-row="${this.lay.row[i]}" data-total="${d.total[i]}" data-self="${d.self[i]}" data-share="${d.rootTotal ? d.total[i] / d.rootTotal : 0}" data-color="${cls}" data-fill="${this.fills[k]}" data-highlighted="${hl}"${this.marked && this.marked[d.name[i]] ? ' data-marked="true"' : ''}${i === this.focus ? ' data-focused="true"' : ''} data-x="${px.toFixed(1)}" data-width="${Math.min(W, d.total[i] * scale).toFixed(1)}"${extra}>${esc(nm)}</li>`);
      }
    }
    this.list.innerHTML = parts.join('');
    if (d && !d.empty && this.el.dataset.state === 'drawing' && !this.anim) this.el.dataset.state = 'ready';
    this.renderCount++;
    this.el.dataset.renderCount = String(this.renderCount);
    this.el.dataset.drawn = String(parts.length);
    this.el.dataset.drawMs = this.lastDrawMs.toFixed(2);
  }

  keys(i) {
    const d = this.data;
    let k = this.nodeKey ? this.nodeKey[i] : this.nameKey[d.name[i]];
    if (this.matched && !this.matched[d.name[i]] && i !== 0) k = K_DIM;
    return k;
  }

  // ---- interaction ------------------------------------------------------------------

  hit(e) {
    const d = this.data;
    if (!d || d.empty) return -1;
    const r = this.canvas.getBoundingClientRect();
    const mx = e.clientX - r.left, my = e.clientY - r.top;
    const lay = this.lay;
    const y = Math.floor(my / ROW);
    const row = this.opts.inverted ? lay.maxRow - y : y;
    if (row < 0 || row > lay.maxRow) return -1;
    const W = r.width, scale = W / (this.view[1] - this.view[0]);
    const vx = this.view[0] + mx / scale;
    const s = lay.rowStart[row], en = lay.rowStart[row + 1], o = lay.order;
    let lo = s, hi = en;
    while (lo < hi) { const m = (lo + hi) >> 1, j = o[m]; if (d.x[j] + d.total[j] <= vx) lo = m + 1; else hi = m; }
    if (lo < en && d.x[o[lo]] <= vx && d.total[o[lo]] * scale >= MIN_W) return o[lo];
    return -1;
  }

  setHover(i) {
    if (i === this.hover) return;
    this.hover = i;
    this.canvas.style.cursor = i >= 0 ? 'pointer' : '';
    this.invalidate();
  }

  onMove(e) {
    const i = this.hit(e);
    this.setHover(i);
    if (i < 0) { this.hideTip(); return; }
    this.showTip(i, e.clientX, e.clientY);
  }

  tipHTML(i) {
    const d = this.data, f = this.format;
    const nm = d.nameOf(i);
    const root = d.rootTotal;
    const rows = [];
    if (d.kind === 'diff') {
      const ls = d.leftTicks ? d.lTotal[i] / d.leftTicks : 0, rs = d.rightTicks ? d.rTotal[i] / d.rightTicks : 0;
      const p = this.nodeDiff[i];
      rows.push(['Baseline', `${formatPercent(ls)} <span class="muted">(${esc(f(d.lTotal[i]))})</span>`]);
      rows.push(['Comparison', `${formatPercent(rs)} <span class="muted">(${esc(f(d.rTotal[i]))})</span>`]);
      rows.push(['Diff', `<b class="diff-${diffClass(p)}">${formatChange(p)}</b>`]);
      rows.push(['Self', `${esc(f(d.lSelf[i]))} → ${esc(f(d.rSelf[i]))}`]);
      const sd = (d.rightTicks ? d.rSelf[i] / d.rightTicks : 0) - (d.leftTicks ? d.lSelf[i] / d.leftTicks : 0);
      if (sd) rows.push(['Self share', formatPoints(sd)]);
    } else {
      rows.push(['Total', `${esc(f(d.total[i]))} <span class="muted">(${formatPercent(root ? d.total[i] / root : 0)})</span>`]);
      rows.push(['Self', `${esc(f(d.self[i]))} <span class="muted">(${formatPercent(root ? d.self[i] / root : 0)})</span>`]);
      if (this.focus > 0 && i !== this.focus && d.isAncestor(this.focus, i)) {
        rows.push(['Of focus', formatPercent(d.total[i] / d.total[this.focus])]);
      }
    }
    const group = this.lay.folded[i] ? this.groupNames(i) : null;
    if (group) {
      const shown = group.slice(0, 6).map((g) => `<div>${esc(g)}</div>`).join('') + (group.length > 6 ? `<div class="muted">… ${group.length - 6} more</div>` : '');
      rows.push([`Folded (${group.length})`, `<div class="fg-tip-group">${shown}</div>`]);
    }
    return `<div class="fg-tip-name">${esc(nm)}</div><table>${rows.map(([k, v]) => `<tr><th>${k}</th><td>${v}</td></tr>`).join('')}</table>`
      + `<div class="fg-tip-hint muted">click: focus · right-click: more${group ? ' (expand the group)' : ''}</div>`;
  }

  showTip(i, cx, cy) {
    this.tip.innerHTML = this.tipHTML(i);
    this.tip.hidden = false;
    const tw = this.tip.offsetWidth, th = this.tip.offsetHeight;
    let left = cx + 14, top = cy + 14;
    if (left + tw > window.innerWidth - 8) left = Math.max(8, cx - tw - 14);
    if (top + th > window.innerHeight - 8) top = Math.max(8, cy - th - 14);
    this.tip.style.left = `${left}px`;
    this.tip.style.top = `${top}px`;
  }

  hideTip() { this.tip.hidden = true; }

  // Keyboard cursor: outline the bar, show its tooltip, and announce it.
  select(i) {
    const d = this.data;
    if (!d || i < 0) return;
    this.sel = i;
    this.invalidate();
    const r = this.canvas.getBoundingClientRect();
    const scale = r.width / (this.view[1] - this.view[0]);
    const px = Math.max(0, (d.x[i] - this.view[0]) * scale);
    const y = r.top + this.barY(i);
    if (y < 0 || y + ROW > window.innerHeight) window.scrollBy(0, y - window.innerHeight / 2);
    const r2 = this.canvas.getBoundingClientRect();
    this.showTip(i, r2.left + px + 4, r2.top + this.barY(i) + ROW);
    const root = d.rootTotal;
    this.live.textContent = `${d.nameOf(i)}: total ${this.format(d.total[i])} (${formatPercent(root ? d.total[i] / root : 0)}), self ${this.format(d.self[i])}`;
  }

  visible(i) {
    const d = this.data, W = this.cssWidth(), scale = W / (this.view[1] - this.view[0]);
    return d.x[i] < this.view[1] && d.x[i] + d.total[i] > this.view[0] && d.total[i] * scale >= MIN_W;
  }

  onKey(e) {
    const d = this.data;
    if (!d || d.empty) return;
    const lay = this.lay;
    let i = this.sel >= 0 ? this.sel : this.focus;
    // moves go between drawn bars: up skips folded frames, down starts below the fold
    const up = () => { let a = i > 0 ? d.parent[i] : i; while (a > 0 && lay.hidden[a]) a = d.parent[a]; return a; };
    const down = () => {
      let best = -1;
      const b = lay.bottom[i], s = d.firstChild[b];
      for (let c = s; s >= 0 && c < s + d.childCount[b]; c++) if (best < 0 || d.total[c] > d.total[best]) best = c;
      return best >= 0 && this.visible(best) ? best : i;
    };
    const side = (dir) => {
      const r = lay.row[i];
      for (let q = lay.pos[i] + dir; q >= lay.rowStart[r] && q < lay.rowStart[r + 1]; q += dir) if (this.visible(lay.order[q])) return lay.order[q];
      return i;
    };
    switch (e.key) {
      case 'ArrowUp': i = this.opts.inverted ? down() : up(); break;
      case 'ArrowDown': i = this.opts.inverted ? up() : down(); break;
      case 'ArrowLeft': i = side(-1); break;
      case 'ArrowRight': i = side(1); break;
      case 'Home': i = this.focus; break;
      case 'Enter': case ' ': this.focusNode(i, true); e.preventDefault(); this.select(i); return;
      case 'Escape':
        if (this.focus !== 0) { this.resetZoom(); e.preventDefault(); e.stopPropagation(); }
        else { this.sel = -1; this.hideTip(); this.invalidate(); }
        return;
      case 's': case 'S': if (this.opts.onSandwich && i > 0) this.opts.onSandwich(d.nameOf(i)); return;
      case 'e': case 'E': this.toggleGroup(i); this.select(i); return;
      default: return;
    }
    e.preventDefault();
    this.select(i);
  }

  menu(i, cx, cy) {
    if (this.closeMenu) this.closeMenu();
    const d = this.data, nm = d.nameOf(i);
    const items = [
      ['Focus on this frame', () => this.focusNode(i, true)],
      ['Reset view', () => this.resetZoom()],
    ];
    if (i > 0) {
      d.chains();
      const t = d.chainTop[i];
      if (this.lay.folded[i]) items.push([`Expand group (${this.lay.folded[i]} folded)`, () => this.toggleGroup(i)]);
      else if (d.hasChain[t]) items.push(['Collapse group', () => this.toggleGroup(i)]);
    }
    const all = (on) => (this.opts.onCollapseAll ? this.opts.onCollapseAll(on) : this.setCollapse(on));
    if (this.collapse || this.flip) items.push(['Expand all groups', () => all(false)]);
    if (!this.collapse || this.flip) items.push(['Collapse all groups', () => all(true)]);
    if (this.opts.onSearchName && i > 0) items.push(['Highlight similar (same function)', () => this.opts.onSearchName(exactSearch(nm))]);
    if (this.opts.onSandwich && i > 0) items.push(['Open in sandwich view', () => this.opts.onSandwich(nm)]);
    items.push(['Copy function name', () => copyText(nm)]);
    const m = h('div', { class: 'menu-pop fg-menu', role: 'menu', 'data-testid': 'flame-menu' },
      h('div', { class: 'menu-title', text: nm }),
      items.map(([label, fn]) => h('button', { type: 'button', role: 'menuitem', text: label, 'data-action': label.replace(/ \(.*$/, ''), onclick: () => { close(); fn(); } })));
    document.body.append(m);
    m.style.left = `${Math.min(cx, window.innerWidth - m.offsetWidth - 8)}px`;
    m.style.top = `${Math.min(cy, window.innerHeight - m.offsetHeight - 8)}px`;
    const undo = dismissable(m, () => close());
    const close = () => { undo(); m.remove(); this.closeMenu = null; };
    this.closeMenu = close;
    m.querySelector('button').focus();
  }

  toPNG() {
    return new Promise((resolve) => this.canvas.toBlob(resolve, 'image/png'));
  }
}

// A search that matches exactly one function name (the "highlight similar" of a menu).
export function exactSearch(name) {
  return `/^${String(name).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$/`;
}

// Copy to the clipboard; plain http on another host has no navigator.clipboard, so fall
// back to a selected textarea and execCommand.
export function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) { navigator.clipboard.writeText(text).catch(() => {}); return; }
  const ta = h('textarea', { style: 'position:fixed;left:-9999px', readonly: true });
  ta.value = text;
  document.body.append(ta);
  ta.select();
  try { document.execCommand('copy'); } catch { /* nothing more to try */ }
  ta.remove();
}
