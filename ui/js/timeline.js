// Timeline: totals over time (SelectSeries) drawn on a canvas, one area or several lines,
// with highlighted sub-ranges and drag-to-select of a new range.

import { h, esc } from './dom.js';
import { timeTicks, tickLabel, formatDateTime } from './time.js';

const PAD_L = 52, PAD_R = 8, PAD_T = 6, PAD_B = 18;
const SERIES_HUES = [210, 15, 130, 280, 45, 180, 330, 95, 250, 0];
export const seriesColor = (i, alpha = 1) => `hsla(${SERIES_HUES[i % SERIES_HUES.length]} 70% 50% / ${alpha})`;

export class Timeline {
  // opts: pane, height, onSelect(startMs, endMs), format(v), label
  constructor(host, opts = {}) {
    this.opts = opts;
    this.height = opts.height || 90;
    this.el = h('div', { class: 'timeline', 'data-testid': 'timeline', 'data-pane': opts.pane || 'main', 'data-state': 'empty' });
    this.canvas = h('canvas', { class: 'tl-canvas', role: 'img', 'aria-label': opts.label || 'Total over time; drag to select a time range' });
    this.tip = h('div', { class: 'tl-tip', hidden: true });
    this.el.append(this.canvas, this.tip);
    host.append(this.el);
    this.ctx = this.canvas.getContext('2d');
    this.series = [];
    this.range = [0, 1];
    this.selections = [];
    this.drag = null;
    this.format = opts.format || String;
    this.canvas.addEventListener('mousedown', (e) => this.onDown(e));
    this.canvas.addEventListener('mousemove', (e) => this.onHover(e));
    this.canvas.addEventListener('mouseleave', () => { this.tip.hidden = true; this.hoverT = null; this.invalidate(); });
    this.ro = new ResizeObserver(() => this.invalidate());
    this.ro.observe(this.el);
    this.onTheme = () => this.invalidate();
    document.addEventListener('fornax:theme', this.onTheme);
  }

  destroy() {
    this.ro.disconnect();
    document.removeEventListener('fornax:theme', this.onTheme);
    this.el.remove();
  }

  setRange(start, end) { this.range = [start, end]; this.invalidate(); }

  // series: [{label, points: [[t, v], ...], active, color}] (color: else by index)
  // step: the series' step in ms (points are drawn as columns that wide)
  setSeries(series, format, step) {
    if (format) this.format = format;
    this.step = step || 0;
    this.series = series || [];
    let n = 0;
    for (const s of this.series) n += s.points.length;
    this.el.dataset.state = n ? 'ready' : 'empty';
    this.el.dataset.points = String(n);
    this.el.dataset.series = String(this.series.length);
    this.invalidate();
  }

  setLoading() { this.el.dataset.state = 'loading'; }
  setError(msg) { this.series = []; this.el.dataset.state = 'error'; this.errorText = msg; this.invalidate(); }

  // selections: [{start, end, kind: 'sel'|'baseline'|'comparison', label}]
  setSelections(sel) {
    this.selections = sel || [];
    this.el.dataset.selection = this.selections.map((s) => `${s.kind}:${Math.round(s.start)}-${Math.round(s.end)}`).join(',');
    this.invalidate();
  }

  invalidate() {
    if (this.pending) return;
    this.pending = requestAnimationFrame(() => { this.pending = 0; this.draw(); });
  }

  tToX(t, W) { const [a, b] = this.range; return PAD_L + ((t - a) / (b - a)) * (W - PAD_L - PAD_R); }
  xToT(x, W) { const [a, b] = this.range; return a + ((x - PAD_L) / (W - PAD_L - PAD_R)) * (b - a); }

  draw() {
    const W = Math.max(50, this.el.clientWidth), H = this.height;
    const dpr = window.devicePixelRatio || 1;
    const c = this.canvas, ctx = this.ctx;
    if (c.width !== Math.round(W * dpr) || c.height !== Math.round(H * dpr)) {
      c.width = Math.round(W * dpr); c.height = Math.round(H * dpr); c.style.height = `${H}px`;
    }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const cs = getComputedStyle(document.documentElement);
    const col = (k) => cs.getPropertyValue(k).trim();
    ctx.clearRect(0, 0, W, H);
    ctx.font = '11px system-ui, sans-serif';
    ctx.fillStyle = col('--muted');
    ctx.strokeStyle = col('--border');
    ctx.lineWidth = 1;
    // axis and ticks
    const plotB = H - PAD_B;
    ctx.beginPath(); ctx.moveTo(PAD_L, plotB + 0.5); ctx.lineTo(W - PAD_R, plotB + 0.5); ctx.stroke();
    const { ticks, step } = timeTicks(this.range[0], this.range[1], Math.max(2, Math.floor(W / 110)));
    ctx.textAlign = 'center'; ctx.textBaseline = 'top';
    for (const t of ticks) {
      const x = this.tToX(t, W);
      ctx.fillRect(x, plotB, 1, 3);
      ctx.fillText(tickLabel(t, step), x, plotB + 4);
    }
    let max = 0;
    for (const s of this.series) for (const [, v] of s.points) if (v > max) max = v;
    ctx.textAlign = 'right'; ctx.textBaseline = 'top';
    if (max > 0) ctx.fillText(this.format(max), PAD_L - 6, PAD_T);
    ctx.textBaseline = 'bottom';
    ctx.fillText('0', PAD_L - 6, plotB);
    const yOf = (v) => plotB - (max > 0 ? (v / max) * (plotB - PAD_T) : 0);
    // selections under the data
    for (const s of this.selections) {
      const x0 = this.tToX(Math.max(s.start, this.range[0]), W), x1 = this.tToX(Math.min(s.end, this.range[1]), W);
      if (x1 <= x0) continue;
      ctx.fillStyle = col(`--sel-${s.kind}`) || 'rgba(59,111,224,0.18)';
      ctx.fillRect(x0, PAD_T, x1 - x0, plotB - PAD_T);
      if (s.label) { ctx.fillStyle = col('--muted'); ctx.textAlign = 'left'; ctx.textBaseline = 'top'; ctx.fillText(s.label, x0 + 3, PAD_T + 1); }
    }
    // data
    if (this.series.length === 1) {
      // one series: a column per point, a step wide (sparse data stays visible)
      const pts = this.series[0].points;
      const accent = col('--accent') || '#3b6fe0';
      const stepPx = this.step ? (this.step / (this.range[1] - this.range[0])) * (W - PAD_L - PAD_R) : 2;
      const bw = Math.max(2, stepPx - (stepPx > 4 ? 1 : 0));
      ctx.fillStyle = accent;
      ctx.globalAlpha = 0.75;
      for (const [t, v] of pts) {
        const x = this.tToX(t, W), y = yOf(v);
        if (x + bw < PAD_L || x > W - PAD_R) continue;
        ctx.fillRect(x, y, bw, plotB - y);
      }
      ctx.globalAlpha = 1;
    } else {
      this.series.forEach((s, si) => {
        ctx.strokeStyle = ctx.fillStyle = s.color || seriesColor(si); ctx.lineWidth = s.active ? 2.5 : 1.5;
        ctx.globalAlpha = this.series.some((q) => q.active) && !s.active ? 0.35 : 1;
        ctx.beginPath();
        s.points.forEach(([t, v], i) => (i ? ctx.lineTo(this.tToX(t, W), yOf(v)) : ctx.moveTo(this.tToX(t, W), yOf(v))));
        ctx.stroke();
        // sparse series (a profile pushed once) would be invisible as a line: dot each point
        if (s.points.length < 40) for (const [t, v] of s.points) { ctx.beginPath(); ctx.arc(this.tToX(t, W), yOf(v), s.active ? 3.5 : 2.5, 0, 2 * Math.PI); ctx.fill(); }
      });
      ctx.globalAlpha = 1;
    }
    if (!this.series.length || this.el.dataset.state === 'empty') {
      ctx.fillStyle = col('--muted'); ctx.textAlign = 'center'; ctx.textBaseline = 'middle';
      const txt = this.el.dataset.state === 'loading' ? 'Loading…' : this.el.dataset.state === 'error' ? (this.errorText || 'Error') : 'No data in this range';
      ctx.fillText(txt, (W + PAD_L) / 2, (plotB + PAD_T) / 2);
    }
    // drag rectangle and hover line on top
    if (this.drag && this.drag.moved) {
      const x0 = Math.min(this.drag.x0, this.drag.x1), x1 = Math.max(this.drag.x0, this.drag.x1);
      ctx.fillStyle = col('--sel-drag') || 'rgba(59,111,224,0.3)';
      ctx.fillRect(x0, PAD_T, x1 - x0, plotB - PAD_T);
    }
    if (this.hoverT != null) {
      ctx.fillStyle = col('--muted');
      ctx.fillRect(Math.round(this.tToX(this.hoverT, W)), PAD_T, 1, plotB - PAD_T);
    }
  }

  localX(e) { return e.clientX - this.canvas.getBoundingClientRect().left; }

  onDown(e) {
    if (e.button !== 0) return;
    e.preventDefault();
    const W = this.el.clientWidth;
    const clamp = (x) => Math.max(PAD_L, Math.min(W - PAD_R, x));
    this.drag = { x0: clamp(this.localX(e)), x1: clamp(this.localX(e)), moved: false };
    const move = (ev) => {
      this.drag.x1 = clamp(this.localX(ev));
      if (Math.abs(this.drag.x1 - this.drag.x0) > 3) this.drag.moved = true;
      this.invalidate();
    };
    const up = () => {
      window.removeEventListener('mousemove', move);
      window.removeEventListener('mouseup', up);
      const d = this.drag;
      this.drag = null;
      this.invalidate();
      if (d && d.moved && this.opts.onSelect) {
        const a = this.xToT(Math.min(d.x0, d.x1), W), b = this.xToT(Math.max(d.x0, d.x1), W);
        this.opts.onSelect(Math.round(a), Math.round(b));
      }
    };
    window.addEventListener('mousemove', move);
    window.addEventListener('mouseup', up);
  }

  onHover(e) {
    if (this.drag) return;
    const W = this.el.clientWidth, x = this.localX(e);
    if (x < PAD_L || x > W - PAD_R || !this.series.length) { this.tip.hidden = true; this.hoverT = null; this.invalidate(); return; }
    const t = this.xToT(x, W);
    // nearest point of each series
    const rows = [];
    let tNear = null;
    this.series.forEach((s, si) => {
      let best = null;
      for (const p of s.points) if (!best || Math.abs(p[0] - t) < Math.abs(best[0] - t)) best = p;
      if (best) { tNear = best[0]; rows.push([si, s.label, best[1]]); }
    });
    if (tNear == null) return;
    this.hoverT = tNear;
    this.invalidate();
    rows.sort((a, b) => b[2] - a[2]);
    this.tip.innerHTML = `<div class="muted">${esc(formatDateTime(tNear, true))}</div>` + rows.slice(0, 8).map(([si, label, v]) =>
      `<div>${this.series.length > 1 ? `<span class="swatch" style="background:${this.series[si].color || seriesColor(si)}"></span>${esc(label)}: ` : ''}<b>${esc(this.format(v))}</b></div>`).join('');
    this.tip.hidden = false;
    const tw = this.tip.offsetWidth;
    this.tip.style.left = `${Math.min(W - tw - 4, x + 12)}px`;
    this.tip.style.top = '4px';
  }
}

// Convert SelectSeries points to [[t, v]] pairs.
export function seriesPoints(s) {
  return (s.points || []).map((p) => [Number(p.timestamp), Number(p.value) || 0]);
}
