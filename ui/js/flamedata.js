// Flame graph data: decodes the server's level encoding once into flat typed arrays and
// answers every question the views ask of it (top table, search share, focus paths,
// sandwich trees, folded and flamebearer export) without building per-node objects.
//
// Layout: nodes are stored level by level (root first), sorted by x within a level, so
// node i's children are a contiguous run [firstChild[i], firstChild[i] + childCount[i]).
// x/total/self are in value units; for a diff they are baseline + comparison combined
// (the bar width Pyroscope and Grafana use), with each side kept in l*/r* arrays.

const num = (v) => (typeof v === 'number' ? v : Number(v));

// A child that keeps at least this share of its only parent's total joins the parent's
// chain (the threshold @grafana/flamegraph groups by).
export const CHAIN_SHARE = 0.99;

export class FlameData {
  constructor(kind, names, n, levelCount) {
    this.kind = kind; // 'single' | 'diff'
    this.names = names;
    this.n = n;
    this.x = new Float64Array(n);
    this.total = new Float64Array(n);
    this.self = new Float64Array(n);
    this.name = new Int32Array(n);
    this.depth = new Int32Array(n);
    this.parent = new Int32Array(n).fill(-1);
    this.firstChild = new Int32Array(n).fill(-1);
    this.childCount = new Int32Array(n);
    this.levelStart = new Int32Array(levelCount + 1);
    this.maxDepth = Math.max(0, levelCount - 1);
    if (kind === 'diff') {
      this.lTotal = new Float64Array(n); this.lSelf = new Float64Array(n);
      this.rTotal = new Float64Array(n); this.rSelf = new Float64Array(n);
    }
    this.leftTicks = 0;
    this.rightTicks = 0;
    this.raw = null; // the server's flamegraph message, kept for flamebearer export
  }

  get rootTotal() { return this.n ? this.total[0] : 0; }
  get empty() { return this.n === 0 || this.total[0] <= 0; }

  // Link each node to its parent: the node on the level above whose [x, x+total) holds it.
  // Both levels are sorted by x, so one forward sweep per level suffices.
  linkParents() {
    const { x, total, parent, firstChild, childCount, levelStart, depth } = this;
    for (let d = 0; d + 1 < levelStart.length; d++) {
      for (let i = levelStart[d]; i < levelStart[d + 1]; i++) depth[i] = d;
      if (d === 0) continue;
      let j = levelStart[d - 1];
      const pend = levelStart[d];
      for (let i = levelStart[d]; i < levelStart[d + 1]; i++) {
        while (j < pend - 1 && x[j] + total[j] <= x[i]) j++;
        parent[i] = j;
        if (childCount[j] === 0) firstChild[j] = i;
        childCount[j]++;
      }
    }
  }

  // Per-name maxima and the node count by name, used for colours and the table.
  nameOf(i) { return this.names[this.name[i]]; }

  // Names from the root's child down to node i ("total" excluded).
  pathOf(i) {
    const out = [];
    for (let k = i; k > 0; k = this.parent[k]) out.push(this.nameOf(k));
    return out.reverse();
  }

  // The node reached by following names from the root; -1 when the path is absent.
  findPath(path) {
    let cur = 0;
    if (!this.n) return -1;
    for (const nm of path) {
      let next = -1;
      const s = this.firstChild[cur], e = s + this.childCount[cur];
      for (let c = s; c >= 0 && c < e; c++) if (this.nameOf(c) === nm) { next = c; break; }
      if (next < 0) return -1;
      cur = next;
    }
    return cur;
  }

  isAncestor(a, i) {
    for (let k = i; k >= 0; k = this.parent[k]) if (k === a) return true;
    return false;
  }

  // Pre-order walk calling enter(i) and exit(i); iterative so deep stacks do not overflow.
  walk(enter, exit) {
    if (!this.n) return;
    const stack = new Int32Array(this.n * 2 + 2);
    let sp = 0;
    stack[sp++] = 0;
    while (sp) {
      const v = stack[--sp];
      if (v < 0) { exit(-v - 1); continue; }
      enter(v);
      stack[sp++] = -v - 1;
      const s = this.firstChild[v];
      for (let c = s + this.childCount[v] - 1; c >= s && s >= 0; c--) stack[sp++] = c;
    }
  }

  // Chains of single children (what @grafana/flamegraph collapses): node i belongs to the
  // chain of its parent when that parent (not the root) has i as its only child and i keeps
  // at least CHAIN_SHARE of the parent's total. Unlike Grafana, a frame with more self time
  // than that allows is never folded: it is doing the work (a hot leaf such as crc32 under
  // its only caller), and hiding its name would hide what the user is looking for.
  // chainTop[i] is the first node of i's chain
  // (i itself when i starts one); hasChain[t] = 1 when chain t has more than one node.
  // Computed once per data set (level order visits parents first).
  chains() {
    if (this.chainTop) return this;
    const { n, parent, childCount, total, self } = this;
    const top = new Int32Array(n), has = new Uint8Array(n), link = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const p = parent[i];
      if (p > 0 && childCount[p] === 1 && total[i] >= CHAIN_SHARE * total[p] && self[i] <= (1 - CHAIN_SHARE) * total[i]) {
        link[i] = 1; top[i] = top[p]; has[top[i]] = 1;
      } else top[i] = i;
    }
    this.chainTop = top; this.hasChain = has; this.chainLink = link;
    return this;
  }

  // Display rows with chains collapsed. collapse: the default for every chain; flip (by
  // chain top, may be null) inverts it per chain; keepNames (by name index, may be null)
  // and keepNode keep frames visible (search matches, explain marks, the focus), which
  // splits their chain there. Returns {row, hidden, order, pos, rowStart, maxRow, folded,
  // bottom}: row[i] is node i's display row (a hidden node shares its head's row); order
  // lists the visible nodes row by row in x order (pos[i] its index there); folded[v] is
  // how many frames are hidden under visible v, bottom[v] the last of them (v if none).
  layout(collapse, flip, keepNames, keepNode = -1) {
    const { n, parent, name, firstChild, childCount } = this;
    if (!n) return { row: new Int32Array(0), hidden: new Uint8Array(0), order: new Int32Array(0), pos: new Int32Array(0), rowStart: new Int32Array(1), maxRow: 0, folded: new Int32Array(0), bottom: new Int32Array(0) };
    const pos = new Int32Array(n);
    let any = false, hidden = null;
    if (collapse || flip) {
      this.chains();
      const link = this.chainLink, top = this.chainTop;
      hidden = new Uint8Array(n);
      for (let i = 1; i < n; i++) {
        if (!link[i] || i === keepNode || (keepNames && keepNames[name[i]])) continue;
        if (collapse !== !!(flip && flip[top[i]])) { hidden[i] = 1; any = true; }
      }
    }
    if (!any) {
      // nothing folded: rows are the levels, already in x order
      const row = new Int32Array(n), order = new Int32Array(n), bottom = new Int32Array(n);
      for (let i = 0; i < n; i++) { row[i] = this.depth[i]; order[i] = i; pos[i] = i; bottom[i] = i; }
      return { row, hidden: new Uint8Array(n), order, pos, rowStart: this.levelStart, maxRow: this.maxDepth, folded: new Int32Array(n), bottom };
    }
    const row = new Int32Array(n), folded = new Int32Array(n), bottom = new Int32Array(n), vis = new Int32Array(n);
    let maxRow = 0, nv = 1;
    for (let i = 1; i < n; i++) {
      const p = parent[i];
      if (hidden[i]) { row[i] = row[p]; vis[i] = vis[p]; folded[vis[i]]++; bottom[vis[i]] = i; continue; }
      row[i] = row[p] + 1; vis[i] = i; bottom[i] = i; nv++;
      if (row[i] > maxRow) maxRow = row[i];
    }
    const rowStart = new Int32Array(maxRow + 2);
    for (let i = 0; i < n; i++) if (!hidden[i]) rowStart[row[i] + 1]++;
    for (let r = 0; r <= maxRow; r++) rowStart[r + 1] += rowStart[r];
    // pre-order walk, children left to right: within a row, visible nodes come in x order
    const order = new Int32Array(nv), next = rowStart.slice(0, maxRow + 1), stack = new Int32Array(n);
    let sp = 0;
    stack[sp++] = 0;
    while (sp) {
      const v = stack[--sp];
      if (!hidden[v]) { pos[v] = next[row[v]]; order[next[row[v]]++] = v; }
      const s = firstChild[v];
      for (let c = s + childCount[v] - 1; s >= 0 && c >= s; c--) stack[sp++] = c;
    }
    return { row, hidden, order, pos, rowStart, maxRow, folded, bottom };
  }

  // Aggregate by function name: self sums every occurrence; total counts a name once per
  // stack (recursive calls are not double counted). Root "total" is excluded.
  topTable() {
    const m = this.names.length;
    const self = new Float64Array(m), total = new Float64Array(m), open = new Int32Array(m);
    const diff = this.kind === 'diff';
    const lSelf = diff ? new Float64Array(m) : null, lTotal = diff ? new Float64Array(m) : null;
    const rSelf = diff ? new Float64Array(m) : null, rTotal = diff ? new Float64Array(m) : null;
    const seen = new Uint8Array(m);
    this.walk((i) => {
      if (i === 0) return;
      const k = this.name[i];
      seen[k] = 1;
      self[k] += this.self[i];
      if (diff) { lSelf[k] += this.lSelf[i]; rSelf[k] += this.rSelf[i]; }
      if (open[k]++ === 0) {
        total[k] += this.total[i];
        if (diff) { lTotal[k] += this.lTotal[i]; rTotal[k] += this.rTotal[i]; }
      }
    }, (i) => { if (i !== 0) open[this.name[i]]--; });
    const rows = [];
    for (let k = 0; k < m; k++) {
      if (!seen[k]) continue;
      const r = { name: this.names[k], self: self[k], total: total[k] };
      if (diff) {
        r.lSelf = lSelf[k]; r.lTotal = lTotal[k]; r.rSelf = rSelf[k]; r.rTotal = rTotal[k];
        r.lShare = this.leftTicks ? lTotal[k] / this.leftTicks : 0;
        r.rShare = this.rightTicks ? rTotal[k] / this.rightTicks : 0;
        r.diff = diffPercent(r.lShare, r.rShare);
        // the change of the function's own (self) share: where the time went, not who
        // called it (a caller's total grows with every callee's regression)
        r.selfDelta = (this.rightTicks ? rSelf[k] / this.rightTicks : 0) - (this.leftTicks ? lSelf[k] / this.leftTicks : 0);
      }
      rows.push(r);
    }
    return rows;
  }

  // Which names a search matches: "/re/" is a regular expression, anything else a
  // case-insensitive substring. Returns {matched: Uint8Array by name index, error}.
  matchNames(query) {
    const q = String(query || '').trim();
    const matched = new Uint8Array(this.names.length);
    if (!q) return { matched, active: false };
    let test;
    const re = /^\/(.+)\/([a-z]*)$/.exec(q);
    if (re) {
      try { const r = new RegExp(re[1], re[2].includes('i') ? 'i' : re[2].replace(/[gy]/g, '')); test = (s) => r.test(s); }
      catch (e) { return { matched, active: true, error: `Bad regular expression: ${e.message}` }; }
    } else {
      const lq = q.toLowerCase();
      test = (s) => s.toLowerCase().includes(lq);
    }
    for (let k = 1; k < this.names.length; k++) if (test(this.names[k])) matched[k] = 1;
    return { matched, active: true };
  }

  // Share of the total spent in matched functions, counting each stack once (a matched
  // node under a matched ancestor adds nothing). Returns {count, value, share, l, r}.
  matchShare(matchedNames) {
    const covered = new Uint8Array(this.n);
    let value = 0, l = 0, r = 0, count = 0;
    for (let i = 1; i < this.n; i++) {
      const p = this.parent[i];
      const hit = matchedNames[this.name[i]] === 1;
      if (covered[p] || (p > 0 && matchedNames[this.name[p]] === 1)) { covered[i] = 1; if (hit) count++; continue; }
      if (hit) {
        count++;
        value += this.total[i];
        if (this.kind === 'diff') { l += this.lTotal[i]; r += this.rTotal[i]; }
      }
    }
    const share = this.rootTotal ? value / this.rootTotal : 0;
    return { count, value, share, lShare: this.leftTicks ? l / this.leftTicks : 0, rShare: this.rightTicks ? r / this.rightTicks : 0 };
  }

  // Sandwich view: {callers, callees} trees for one function name, both rooted at it.
  // Only outermost occurrences count, so recursion is not double counted. For a diff the
  // trees are diffs too (each side's values kept, shares still of each side's whole total),
  // so a regression's callers and callees are coloured by their own change.
  sandwich(fname) {
    const k = this.names.indexOf(fname);
    const diff = this.kind === 'diff';
    const callees = newTrie(fname), callers = newTrie(fname);
    const done = () => {
      const out = { callers: fromTrie(callers, diff), callees: fromTrie(callees, diff) };
      if (diff) for (const t of [out.callers, out.callees]) { t.leftTicks = this.leftTicks; t.rightTicks = this.rightTicks; }
      return out;
    };
    if (k < 0) return done();
    const add = (t, i) => {
      t.total += this.total[i]; t.self += this.self[i];
      if (diff) { t.lt += this.lTotal[i]; t.ls += this.lSelf[i]; t.rt += this.rTotal[i]; t.rs += this.rSelf[i]; }
    };
    const under = new Uint8Array(this.n);
    for (let i = 1; i < this.n; i++) {
      const p = this.parent[i];
      under[i] = under[p] || (p > 0 && this.name[p] === k) ? 1 : 0;
      if (this.name[i] !== k || under[i]) continue;
      // callees: merge the subtree below i
      add(callees, i);
      const st = [[i, callees]];
      while (st.length) {
        const [src, dst] = st.pop();
        const s = this.firstChild[src];
        for (let c = s; s >= 0 && c < s + this.childCount[src]; c++) {
          const t = trieChild(dst, this.nameOf(c));
          add(t, c);
          st.push([c, t]);
        }
      }
      // callers: the path from i up to the root, reversed; every caller carries i's value
      const v = this.total[i], lv = diff ? this.lTotal[i] : 0, rv = diff ? this.rTotal[i] : 0;
      const carry = (t) => { t.total += v; if (diff) { t.lt += lv; t.rt += rv; } };
      carry(callers);
      let t = callers;
      for (let a = p; a > 0; a = this.parent[a]) { t = trieChild(t, this.nameOf(a)); carry(t); }
      t.self += v;
      if (diff) { t.ls += lv; t.rs += rv; }
    }
    if (callers.total && !callers.kids.size) { callers.self = callers.total; callers.ls = callers.lt; callers.rs = callers.rt; }
    return done();
  }

  // Folded ("collapsed") text: one line per stack with self > 0, root first.
  toFolded() {
    const path = [], lines = [];
    this.walk((i) => {
      if (i === 0) return;
      path.push(this.nameOf(i));
      if (this.self[i] > 0) lines.push(`${path.join(';')} ${this.self[i]}`);
    }, (i) => { if (i !== 0) path.pop(); });
    return lines.join('\n') + (lines.length ? '\n' : '');
  }
}

// Diff change in percent per grafana-client.md §5: relative change of share, clamped to
// [-100, +100]; a function absent from the baseline counts as +100 (new code).
export function diffPercent(lShare, rShare) {
  if (lShare === 0) return rShare > 0 ? 100 : 0;
  const p = ((rShare - lShare) / lShare) * 100;
  return Math.max(-100, Math.min(100, p));
}

function levelValues(lv) {
  return (lv && lv.values) || [];
}

// Decode FlameGraph{names, levels: [{values: [x_delta, total, self, name] ...]}, total, maxSelf}.
export function decodeFlamegraph(fg) {
  if (!fg || !fg.levels || !fg.levels.length) return new FlameData('single', ['total'], 0, 0);
  const names = fg.names || ['total'];
  let n = 0;
  for (const lv of fg.levels) n += levelValues(lv).length >> 2;
  const d = new FlameData('single', names, n, fg.levels.length);
  let i = 0;
  fg.levels.forEach((lv, depth) => {
    d.levelStart[depth] = i;
    const v = levelValues(lv);
    let prev = 0;
    for (let q = 0; q + 3 < v.length; q += 4, i++) {
      const x = prev + num(v[q]), tot = num(v[q + 1]);
      d.x[i] = x; d.total[i] = tot; d.self[i] = num(v[q + 2]); d.name[i] = num(v[q + 3]);
      prev = x + tot;
    }
  });
  d.levelStart[fg.levels.length] = i;
  d.maxSelf = num(fg.maxSelf || 0);
  d.linkParents();
  d.raw = fg;
  return d;
}

// Decode FlameGraphDiff: 7-tuples [xL, totalL, selfL, xR, totalR, selfR, name], both x
// columns delta-encoded independently; combined x = xL + xR since the trees are aligned.
export function decodeDiff(fg) {
  if (!fg || !fg.levels || !fg.levels.length) return new FlameData('diff', ['total'], 0, 0);
  const names = fg.names || ['total'];
  let n = 0;
  for (const lv of fg.levels) n += Math.floor(levelValues(lv).length / 7);
  const d = new FlameData('diff', names, n, fg.levels.length);
  let i = 0;
  fg.levels.forEach((lv, depth) => {
    d.levelStart[depth] = i;
    const v = levelValues(lv);
    let pl = 0, pr = 0;
    for (let q = 0; q + 6 < v.length; q += 7, i++) {
      const xl = pl + num(v[q]), tl = num(v[q + 1]);
      const xr = pr + num(v[q + 3]), tr = num(v[q + 4]);
      pl = xl + tl; pr = xr + tr;
      d.lTotal[i] = tl; d.lSelf[i] = num(v[q + 2]);
      d.rTotal[i] = tr; d.rSelf[i] = num(v[q + 5]);
      d.x[i] = xl + xr; d.total[i] = tl + tr; d.self[i] = d.lSelf[i] + d.rSelf[i];
      d.name[i] = num(v[q + 6]);
    }
  });
  d.levelStart[fg.levels.length] = i;
  d.leftTicks = num(fg.leftTicks || 0) || (n ? d.lTotal[0] : 0);
  d.rightTicks = num(fg.rightTicks || 0) || (n ? d.rTotal[0] : 0);
  d.maxSelf = num(fg.maxSelf || 0);
  d.linkParents();
  d.raw = fg;
  return d;
}

function newTrie(name) { return { name, total: 0, self: 0, lt: 0, ls: 0, rt: 0, rs: 0, kids: new Map() }; }
function trieChild(t, name) {
  let c = t.kids.get(name);
  if (!c) { c = newTrie(name); t.kids.set(name, c); }
  return c;
}

// Lay a trie out as FlameData (children in bytewise name order after the parent's self,
// exactly as the server does). The trie root becomes node 0. diff: also lay out each
// side's values (lt/ls/rt/rs) as a diff FlameData; the caller sets its tick counts.
export function fromTrie(root, diff = false) {
  const names = [], nameIdx = new Map();
  const levels = [];
  let cur = root.total > 0 ? [[root, 0, -1]] : [];
  let n = 0;
  while (cur.length) {
    levels.push(cur);
    n += cur.length;
    const next = [];
    for (const [t, x] of cur) {
      let cx = x + t.self;
      const keys = [...t.kids.keys()].sort(byteOrder);
      for (const k of keys) { const c = t.kids.get(k); next.push([c, cx]); cx += c.total; }
    }
    cur = next;
  }
  const d = new FlameData(diff ? 'diff' : 'single', names, n, levels.length);
  let i = 0;
  levels.forEach((lv, depth) => {
    d.levelStart[depth] = i;
    for (const [t, x] of lv) {
      let k = nameIdx.get(t.name);
      if (k === undefined) { k = names.length; names.push(t.name); nameIdx.set(t.name, k); }
      d.x[i] = x; d.total[i] = t.total; d.self[i] = t.self; d.name[i] = k;
      if (diff) { d.lTotal[i] = t.lt; d.lSelf[i] = t.ls; d.rTotal[i] = t.rt; d.rSelf[i] = t.rs; }
      d.maxSelf = Math.max(d.maxSelf || 0, t.self);
      i++;
    }
  });
  d.levelStart[levels.length] = i;
  d.linkParents();
  return d;
}

function byteOrder(a, b) { return a < b ? -1 : a > b ? 1 : 0; }

// A flamebearer profile (the legacy Pyroscope /render JSON, read by flamegraph.com and
// @pyroscope/flamegraph) from the server message as received.
export function toFlamebearer(data, meta) {
  const fg = data.raw || {};
  const fb = {
    version: 1,
    flamebearer: {
      names: fg.names || [],
      levels: (fg.levels || []).map((lv) => levelValues(lv).map(num)),
      numTicks: num(fg.total || data.rootTotal),
      maxSelf: num(fg.maxSelf || 0),
    },
    metadata: {
      format: data.kind === 'diff' ? 'double' : 'single',
      spyName: '',
      sampleRate: meta.sampleRate,
      units: meta.units,
      name: meta.name,
    },
  };
  if (data.kind === 'diff') { fb.leftTicks = data.leftTicks; fb.rightTicks = data.rightTicks; }
  return fb;
}
