// Flame graph data: decodes the server's level encoding once into flat typed arrays and
// answers every question the views ask of it (top table, search share, focus paths,
// sandwich trees, folded and flamebearer export) without building per-node objects.
//
// Layout: nodes are stored level by level (root first), sorted by x within a level, so
// node i's children are a contiguous run [firstChild[i], firstChild[i] + childCount[i]).
// x/total/self are in value units; for a diff they are baseline + comparison combined
// (the bar width Pyroscope and Grafana use), with each side kept in l*/r* arrays.

const num = (v) => (typeof v === 'number' ? v : Number(v));

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
  // Only outermost occurrences count, so recursion is not double counted.
  sandwich(fname) {
    const k = this.names.indexOf(fname);
    const callees = newTrie(fname), callers = newTrie(fname);
    if (k < 0) return { callers: fromTrie(callers), callees: fromTrie(callees) };
    const under = new Uint8Array(this.n);
    for (let i = 1; i < this.n; i++) {
      const p = this.parent[i];
      under[i] = under[p] || (p > 0 && this.name[p] === k) ? 1 : 0;
      if (this.name[i] !== k || under[i]) continue;
      const v = this.total[i];
      // callees: merge the subtree below i
      callees.total += v; callees.self += this.self[i];
      const st = [[i, callees]];
      while (st.length) {
        const [src, dst] = st.pop();
        const s = this.firstChild[src];
        for (let c = s; s >= 0 && c < s + this.childCount[src]; c++) {
          const t = trieChild(dst, this.nameOf(c));
          t.total += this.total[c]; t.self += this.self[c];
          st.push([c, t]);
        }
      }
      // callers: the path from i up to the root, reversed
      callers.total += v;
      let t = callers;
      for (let a = p; a > 0; a = this.parent[a]) { t = trieChild(t, this.nameOf(a)); t.total += v; }
      t.self += v;
    }
    if (callers.total && !callers.kids.size) callers.self = callers.total;
    return { callers: fromTrie(callers), callees: fromTrie(callees) };
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

function newTrie(name) { return { name, total: 0, self: 0, kids: new Map() }; }
function trieChild(t, name) {
  let c = t.kids.get(name);
  if (!c) { c = newTrie(name); t.kids.set(name, c); }
  return c;
}

// Lay a trie out as FlameData (children in bytewise name order after the parent's self,
// exactly as the server does). The trie root becomes node 0.
export function fromTrie(root) {
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
  const d = new FlameData('single', names, n, levels.length);
  let i = 0;
  levels.forEach((lv, depth) => {
    d.levelStart[depth] = i;
    for (const [t, x] of lv) {
      let k = nameIdx.get(t.name);
      if (k === undefined) { k = names.length; names.push(t.name); nameIdx.set(t.name, k); }
      d.x[i] = x; d.total[i] = t.total; d.self[i] = t.self; d.name[i] = k;
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
