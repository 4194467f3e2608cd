"""workload - real profiles to push, and every query answer of a node in a
form two nodes can be compared by (cluster tests: the RF=3 answer must equal
the RF=1 answer on the same pushes).

Pushes are built from the captured fixtures (../shared/fixtures) and the
real Go CPU profiles of bench/data; `Push.send` replays one against any
node (a distributor or a single-node fornax). `answers(node)` asks a node
every query of the API over everything it holds.
"""
import gzip
import json
import os
import time
import urllib.parse

import pbwire
from fornax import FIXTURES, ROOT, HTTPError, fixture, fixture_json

START, END = 0, 4102444800000  # 1970 .. 2100 in ms
T0 = 1795238400  # 2026-11-21 00:00 UTC, near the fixtures' own timestamps
BENCH_DATA = os.path.join(ROOT, "bench", "data")


class Push:
    """One HTTP push request, replayable against any node."""

    def __init__(self, path, body, headers, what, query=""):
        self.path, self.body, self.headers, self.what = path, body, headers, what
        self.query = query

    def send(self, node, tenant=None, timeout=30):
        headers = dict(self.headers)
        if tenant:
            headers["X-Scope-OrgID"] = tenant
        path = self.path + ("?" + self.query if self.query else "")
        status, _, _ = node.request("POST", path, self.body, headers, timeout=timeout)
        return status

    def __repr__(self):
        return "Push(%s)" % self.what


def with_time(pprof_bytes, time_ns):
    """The profile with time_nanos (field 9) set: protobuf keeps the last
    occurrence of a scalar field, so appending it overrides the original."""
    plain = gzip.decompress(pprof_bytes) if pprof_bytes[:2] == b"\x1f\x8b" else pprof_bytes
    return gzip.compress(plain + pbwire.field(9, time_ns), 1)


def bench_profiles():
    """The real Go CPU profiles of bench/data (gzipped pprof bytes), sorted."""
    names = sorted(n for n in os.listdir(BENCH_DATA) if n.endswith(".pb.gz"))
    out = []
    for n in names:
        with open(os.path.join(BENCH_DATA, n), "rb") as f:
            out.append(f.read())
    return out


def ingest(name, body, what, content_type="application/octet-stream", **params):
    params = dict(params, name=name)
    return Push("/ingest", body, {"Content-Type": content_type}, what, urllib.parse.urlencode(params))


def real_pushes(n_bench=20, tag="steady"):
    """Every kind of real push the single-node tests use, once each, plus
    n_bench Go CPU profiles of bench/data spread over 3 pods at 10 s steps."""
    out = []
    bench = bench_profiles()
    for i in range(n_bench):
        body = with_time(bench[i % len(bench)], (T0 + 10 * i) * 10**9)
        out.append(ingest("%s-go{pod=p%d}" % (tag, i % 3), body, "bench/data #%d" % i, format="pprof"))
    for name in ("go-cpu", "go-heap", "node-cpu-wall", "node-heap"):
        out.append(ingest("%s-%s{fixture=%s}" % (tag, name, name), fixture("pprof", name + ".pb.gz"),
                          "pprof/" + name, format="pprof", spyName="gospy"))
    for meta_name, body_name in (("sdk-0.6.4-wall-cpu.request.json", "sdk-0.6.4-wall-cpu.body.pb.gz"),
                                 ("sdk-0.6.4-heap.request.json", "sdk-0.6.4-heap.body.pb.gz"),
                                 ("sdk-0.4.13-wall.request.json", "sdk-0.4.13-wall.multipart.body"),
                                 ("sdk-0.4.13-heap.request.json", "sdk-0.4.13-heap.multipart.body")):
        meta = fixture_json("nodejs-sdk", meta_name)
        headers = {k: v for k, v in meta["headers"].items() if k.lower() == "content-type"}
        out.append(Push(meta["path"], fixture("nodejs-sdk", body_name), headers, "nodejs-sdk/" + meta_name,
                        meta["raw_query"]))
    out.append(Push("/push.v1.PusherService/Push", fixture("connect-push", "buf-curl-push.body.bin"),
                    {"Content-Type": "application/proto", "Connect-Protocol-Version": "1"},
                    "connect-push"))
    out.append(ingest("%s-perf.cpu{host=a}" % tag, fixture("folded", "perf-c-framepointer.folded"),
                      "folded/perf", content_type="text/plain", sampleRate="499", spyName="perf",
                      **{"from": str(T0)}))
    return out


def numbered_pushes(n, tag, start=0):
    """n pushes of real profiles, each its own series (label seq), so that a
    test can tell which acknowledged push is missing. Mixes the Go CPU
    profiles of bench/data with the other pprof fixtures."""
    bench = bench_profiles()
    others = [fixture("pprof", n_ + ".pb.gz") for n_ in ("go-heap", "node-cpu-wall", "node-heap")]
    out = []
    for i in range(start, start + n):
        t = (T0 - 10 * i) * 10**9  # back in time: never beyond reject_newer_than
        if i % 4 == 3:
            body = with_time(others[(i // 4) % len(others)], t)
        else:
            body = with_time(bench[i % len(bench)], t)
        seq = "%s-%d" % (tag, i)
        p = ingest("%s{seq=%s,pod=p%d}" % (tag, seq, i % 3), body, seq, format="pprof")
        p.seq = seq
        out.append(p)
    return out


# --- reading pprof -------------------------------------------------------------------

def _ints(vals):
    out = []
    for v in vals:
        if isinstance(v, bytes):
            out.extend(pbwire.signed64(x) for x in pbwire.packed_varints(v))
        else:
            out.append(pbwire.signed64(v))
    return out


def pprof_content(data):
    """A pprof's meaning, independent of how it is laid out: sample types and
    {stack of function names (leaf first): [values]} summed over samples."""
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    m = pbwire.decode(data)
    strings = [s.decode(errors="replace") for s in m.get(6, [])]
    funcs = {}
    for fb in m.get(5, []):
        f = pbwire.decode(fb)
        funcs[f.get(1, [0])[0]] = strings[f.get(2, [0])[0]]
    locs = {}
    for lb in m.get(4, []):
        loc = pbwire.decode(lb)
        names = []
        for line in loc.get(4, []):
            names.append(funcs.get(pbwire.decode(line).get(1, [0])[0], "?"))
        locs[loc.get(1, [0])[0]] = names
    types = []
    for tb in m.get(1, []):
        t = pbwire.decode(tb)
        types.append("%s/%s" % (strings[t.get(1, [0])[0]], strings[t.get(2, [0])[0]]))
    stacks = {}
    for sb in m.get(2, []):
        s = pbwire.decode(sb)
        key = tuple(n for lid in _ints(s.get(1, [])) for n in locs.get(lid, ["?"]))
        vals = _ints(s.get(2, []))
        acc = stacks.setdefault(key, [0] * len(vals))
        for k, v in enumerate(vals):
            acc[k] += v
    stacks = {k: v for k, v in stacks.items() if any(v)}
    return {"types": types, "stacks": stacks}


# --- answers -------------------------------------------------------------------------

def select_req(ptype, selector="{}", **kw):
    req = {"profileTypeID": ptype, "labelSelector": selector, "start": START, "end": END}
    req.update(kw)
    return req


def merge_profile(node, ptype, selector="{}", tenant=None):
    body = (pbwire.field(1, ptype) + pbwire.field(2, selector) + pbwire.field(3, START) +
            pbwire.field(4, END))
    return node.connect_proto("querier.v1.QuerierService/SelectMergeProfile", body, tenant=tenant)


def _labels(ls):
    return tuple(sorted((p["name"], p["value"]) for p in ls.get("labels", [])))


def answers(node, tenant=None, selector="{}"):
    """Every query answer over what node holds (for the series matching
    selector): profile types, label names and values, series, the full flame
    graph at the default and at an unlimited max_nodes, SelectSeries points
    per service, and the merged pprof's content."""
    q = lambda rpc, msg: node.query(rpc, msg, tenant)  # noqa: E731
    matchers = [selector] if selector != "{}" else []
    out = {}
    names = sorted(q("LabelNames", {"matchers": matchers, "start": START, "end": END}).get("names", []))
    out["LabelNames"] = names
    for n in names:
        out["LabelValues " + n] = sorted(q("LabelValues", {"name": n, "matchers": matchers,
                                                          "start": START, "end": END}).get("names", []))
    series = q("Series", {"matchers": matchers, "start": START, "end": END}).get("labelsSet", [])
    out["Series"] = sorted(_labels(s) for s in series)
    if matchers:
        # ProfileTypes takes no selector: the types are those of the series.
        types = sorted({dict(s)["__profile_type__"] for s in out["Series"]})
    else:
        types = sorted(t["ID"] for t in q("ProfileTypes", {"start": START, "end": END})
                       .get("profileTypes", []))
        out["ProfileTypes"] = types
    for t in types:
        fg = q("SelectMergeStacktraces", select_req(t, selector)).get("flamegraph")
        out["FlameGraph " + t] = fg
        out["FlameGraph(all nodes) " + t] = q("SelectMergeStacktraces",
                                              select_req(t, selector, maxNodes=1 << 20)).get("flamegraph")
        ss = q("SelectSeries", select_req(t, selector, step=10.0, groupBy=["service_name"]))
        out["SelectSeries " + t] = sorted(
            (_labels(s), tuple((int(p["timestamp"]), p["value"]) for p in s.get("points", [])))
            for s in ss.get("series", []))
        out["SelectMergeProfile " + t] = pprof_content(merge_profile(node, t, selector, tenant))
    return out


def flamegraph_total(fg):
    return int(fg["total"]) if fg else 0


def push_all(pushes, nodes, tenant=None, threads=4):
    """Sends pushes over nodes (round robin) from several threads; returns
    the list of (push, status or exception)."""
    import concurrent.futures
    nodes = list(nodes)

    def one(i_p):
        i, p = i_p
        try:
            return p, p.send(nodes[i % len(nodes)], tenant)
        except (HTTPError, OSError) as e:
            return p, e

    with concurrent.futures.ThreadPoolExecutor(threads) as ex:
        return list(ex.map(one, enumerate(pushes)))


def _short(v):
    if isinstance(v, dict) and "stacks" in v:
        v = {"types": v["types"], "stacks": len(v["stacks"]),
             "totals": [sum(x[i] for x in v["stacks"].values()) for i in range(len(v["types"]))]}
    return json.dumps(v, default=str)[:400]


def describe_diff(a, b, limit=5):
    """A short account of how two answers() differ (for assertion messages)."""
    lines = []
    # Which series or labels differ says most: those first.
    for k in sorted(set(a) | set(b), key=lambda k: (not k.startswith(("Series", "Label")), k)):
        if a.get(k) != b.get(k):
            va, vb = a.get(k), b.get(k)
            if isinstance(va, list) and isinstance(vb, list):
                only_a = [x for x in va if x not in vb]
                only_b = [x for x in vb if x not in va]
                lines.append("%s:\n  only in cluster: %s\n  only in rf=1:    %s" % (
                    k, _short(only_a), _short(only_b)))
            else:
                lines.append("%s:\n  cluster: %s\n  rf=1:    %s" % (k, _short(va), _short(vb)))
            if len(lines) >= limit:
                break
    return "\n".join(lines)


class Load:
    """Pushes a list of pushes in the background from several threads, each
    push to node_fn() (e.g. Cluster.distributor: round robin), recording
    every outcome as it happens so a test can act in the middle (kill an
    ingester once n pushes were acknowledged)."""

    def __init__(self, pushes, node_fn, threads=4, tenant=None, timeout=30, pace=0.0):
        import threading
        self.todo = list(pushes)
        self.node_fn, self.tenant, self.timeout, self.pace = node_fn, tenant, timeout, pace
        self.results = []  # (push, status or exception)
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def _run(self):
        while True:
            with self.lock:
                if not self.todo:
                    return
                p = self.todo.pop(0)
            try:
                r = p.send(self.node_fn(), self.tenant, self.timeout)
            except (HTTPError, OSError) as e:
                r = e
            with self.lock:
                self.results.append((p, r))
            if self.pace:
                time.sleep(self.pace)

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def done(self):
        with self.lock:
            return len(self.results)

    def wait_done(self, n, timeout=60):
        deadline = time.time() + timeout
        while self.done() < n and time.time() < deadline:
            time.sleep(0.01)
        return self.done()

    def join(self):
        for t in self.threads:
            t.join()
        return self.results

    def acked(self):
        return [p for p, r in self.results if r == 200]

    def failed(self):
        return [(p.what, r) for p, r in self.results if r != 200]
