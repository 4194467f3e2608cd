#!/usr/bin/env python3
"""cluster.py - cluster benchmark (issue 3): ingest throughput and push
latency with RF=3 against RF=1, write amplification, and query latency over
the single-node benchmark's hour of data, on this machine.

Setups, all on 127.0.0.1:
  single   one `fornax -target=all` process (memory ring, RF=1)
  rf1      the cluster topology (etcd, 2 distributors, 3 ingesters,
           2 queriers as separate processes) with replication factor 1
  rf3      the same cluster with replication factor 3 (the default with etcd)

Data: bench_head's hour (10 series x 1 h at one profile per 10 s = 3,600
real Go CPU profiles from bench/data, each a fresh Poisson redraw of a base
profile's sample counts, so no two are byte-identical), generated once into
build/bench/cluster-data. Pushes go through /ingest (format=pprof, gzipped)
from CLIENTS threads with keep-alive connections, round robin over the
distributors. Write amplification = bytes the ingester processes wrote to
disk (/proc/<pid>/io write_bytes, WAL fsyncs and RocksDB flushes included)
per byte pushed. Queries run ROUNDS times each through the queriers.

    python3 bench/cluster.py [--quick] [--setups single,rf1,rf3]

Prints a Markdown report on stdout; asserts nothing but that every push and
query succeeds and that every setup answers the same totals.
"""
import argparse
import gzip
import http.client
import json
import math
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))

import pbwire  # noqa: E402
from fornax import BULK_FLAGS, TEST_FLAGS, Cluster, Fornax  # noqa: E402

NSERIES, PER_SERIES = 10, 360
T0 = 1795000000  # s, as bench_head
CPU = "process_cpu:cpu:nanoseconds:cpu:nanoseconds"
DATA = os.path.join(ROOT, "build", "bench", "cluster-data")


# --- data ----------------------------------------------------------------------

def _varints(b):
    return pbwire.packed_varints(b) if isinstance(b, bytes) else [b]


def load_base(path):
    """A base profile split into (fields other than samples, [(loc bytes, count, period)])."""
    plain = gzip.decompress(open(path, "rb").read())
    m = pbwire.decode(plain)
    rest = bytearray()
    for num, vals in m.items():
        if num in (2, 9):
            continue
        for v in vals:
            rest += pbwire.field(num, v)
    samples = []
    for sb in m.get(2, []):
        s = pbwire.decode(sb)
        locs = b"".join(pbwire.field(1, v) for v in s.get(1, []))
        vals = [x for v in s.get(2, []) for x in _varints(v)]
        labels = b"".join(pbwire.field(3, v) for v in s.get(3, []))
        if len(vals) != 2 or vals[0] <= 0:
            continue
        samples.append((locs, labels, vals[0], vals[1] // vals[0]))
    return bytes(rest), samples


def poisson(rng, mean):
    if mean > 30:
        return max(0, int(rng.gauss(mean, math.sqrt(mean)) + 0.5))
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def make_profile(base, rng, time_ns):
    rest, samples = base
    out = bytearray(rest)
    for locs, labels, count, period in samples:
        c = poisson(rng, count)
        if c == 0:
            continue
        vals = pbwire.encode_varint(c) + pbwire.encode_varint(c * period)
        body = locs + pbwire.encode_varint(2 << 3 | 2) + pbwire.encode_varint(len(vals)) + vals + labels
        out += pbwire.field(2, body)
    out += pbwire.field(9, time_ns)
    return gzip.compress(bytes(out), 6)


def dataset():
    """[(series, step, gzipped pprof)] for the hour, generated once."""
    os.makedirs(DATA, exist_ok=True)
    names = sorted(n for n in os.listdir(os.path.join(ROOT, "bench", "data")) if n.endswith(".pb.gz"))
    bases = None
    rng = random.Random(7)
    out = []
    for s in range(NSERIES):
        for k in range(PER_SERIES):
            path = os.path.join(DATA, "svc-%d-%03d.pb.gz" % (s, k))
            if not os.path.exists(path):
                if bases is None:
                    bases = [load_base(os.path.join(ROOT, "bench", "data", n)) for n in names]
                body = make_profile(bases[(s * 7 + k) % len(bases)], rng, (T0 + 10 * k) * 10**9)
                with open(path + ".tmp", "wb") as f:
                    f.write(body)
                os.rename(path + ".tmp", path)
            with open(path, "rb") as f:
                out.append((s, k, f.read()))
    return out


# --- setups --------------------------------------------------------------------

class Single:
    name = "single"

    def __init__(self):
        self.f = Fornax(TEST_FLAGS + BULK_FLAGS, name="single").start()
        self.distributors = self.queriers = self.ingesters = [self.f]

    def stop(self):
        self.f.stop()

    def cleanup(self):
        self.f.cleanup()


class ClusterSetup:
    def __init__(self, rf):
        self.name = "rf%d" % rf
        self.c = Cluster(flags=["-distributor.replication-factor=%d" % rf],
                         heartbeat_period="1s", heartbeat_timeout="10s").start()
        self.distributors, self.queriers = self.c.distributors, self.c.queriers
        self.ingesters = self.c.ingesters

    def stop(self):
        for f in self.c.queriers + self.c.distributors + self.c.ingesters:
            f.stop()

    def cleanup(self):
        self.c.cleanup()


def write_bytes(pid):
    with open("/proc/%d/io" % pid) as f:
        for line in f:
            if line.startswith("write_bytes:"):
                return int(line.split()[1])
    return 0


def du(path):
    total = 0
    for d, _, files in os.walk(path):
        for n in files:
            try:
                total += os.path.getsize(os.path.join(d, n))
            except OSError:
                pass
    return total


# --- load ------------------------------------------------------------------------

def push_all(setup, data, clients):
    """Pushes every profile once; returns (seconds, [latency s], bytes sent)."""
    todo = list(enumerate(data))
    lock = threading.Lock()
    lat, errors = [], []

    def worker(w):
        conns = {}
        while True:
            with lock:
                if not todo:
                    break
                i, (s, k, body) = todo.pop(0)
            node = setup.distributors[i % len(setup.distributors)]
            conn = conns.get(node.http_port)
            if conn is None:
                conn = conns[node.http_port] = http.client.HTTPConnection("127.0.0.1", node.http_port,
                                                                          timeout=60)
            path = "/ingest?name=svc-%d&format=pprof" % s
            t = time.perf_counter()
            try:
                conn.request("POST", path, body, {"Content-Type": "application/octet-stream"})
                r = conn.getresponse()
                r.read()
                status = r.status
            except (OSError, http.client.HTTPException) as e:
                conn.close()
                conns.pop(node.http_port, None)
                status = str(e)
            d = time.perf_counter() - t
            with lock:
                lat.append(d)
                if status != 200:
                    errors.append(status)
        for c in conns.values():
            c.close()

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(w,)) for w in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError("%d pushes failed, e.g. %r" % (len(errors), errors[:3]))
    return time.perf_counter() - t0, lat, sum(len(b) for _, _, b in data)


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(math.ceil(p / 100.0 * len(v))) - 1)]


QUERIES = [
    ("flame graph, 10 series x 1 h (3,600 profiles)", "SelectMergeStacktraces",
     {"profileTypeID": CPU, "labelSelector": "{}"}),
    ("flame graph, 1 series x 1 h (360 profiles)", "SelectMergeStacktraces",
     {"profileTypeID": CPU, "labelSelector": '{service_name="svc-3"}'}),
    ("SelectSeries, 10 series, step 60 s, by service", "SelectSeries",
     {"profileTypeID": CPU, "labelSelector": "{}", "step": 60.0, "groupBy": ["service_name"]}),
    ("merged pprof, 10 series x 1 h", "SelectMergeProfile",
     {"profileTypeID": CPU, "labelSelector": "{}"}),
]


def run_queries(setup, rounds):
    out = {}
    start, end = T0 * 1000 - 1, (T0 + 3600) * 1000
    for label, rpc, req in QUERIES:
        req = dict(req, start=start, end=end)
        times, answer = [], None
        for r in range(rounds + 1):
            q = setup.queriers[r % len(setup.queriers)]
            t = time.perf_counter()
            a = q.query(rpc, req)
            d = time.perf_counter() - t
            if r:  # the first round warms caches
                times.append(d)
            if rpc == "SelectMergeStacktraces":
                answer = int(a["flamegraph"]["total"])
            elif rpc == "SelectSeries":
                answer = sum(p["value"] for s in a["series"] for p in s["points"])
            else:  # the pprof's cpu total
                answer = sum(int(smp["value"][0]) for smp in a.get("sample", []))
        out[label] = (times, answer)
    return out


# --- main --------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer query rounds (CI smoke run)")
    ap.add_argument("--setups", default="single,rf1,rf3")
    ap.add_argument("--clients", type=int, default=8)
    args = ap.parse_args()
    rounds = 5 if args.quick else 21

    t = time.time()
    data = dataset()
    gz = sum(len(b) for _, _, b in data)
    plain = sum(len(gzip.decompress(b)) for _, _, b in data)
    samples_note = "%d profiles, %.1f MB gzipped, %.1f MB uncompressed (data ready in %.0f s)" % (
        len(data), gz / 1e6, plain / 1e6, time.time() - t)

    results = {}
    for name in args.setups.split(","):
        setup = Single() if name == "single" else ClusterSetup(int(name[2:]))
        try:
            pids = [f.proc.pid for f in setup.ingesters]
            wb0 = sum(write_bytes(p) for p in pids)
            ru0 = resource.getrusage(resource.RUSAGE_SELF)
            secs, lat, sent = push_all(setup, data, args.clients)
            ru1 = resource.getrusage(resource.RUSAGE_SELF)
            wb1 = sum(write_bytes(p) for p in pids)
            client_cpu = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
            queries = run_queries(setup, rounds)
            dirs = [os.path.join(f.data_dir, "head") for f in setup.ingesters]
            setup.stop()  # graceful: flushes what is left
            disk = sum(du(d) for d in dirs)
            results[name] = dict(secs=secs, lat=lat, sent=sent, written=wb1 - wb0, disk=disk,
                                 client_cpu=client_cpu, queries=queries)
        finally:
            setup.cleanup()

    # Every setup must give the same answers (RF=3 dedup included).
    names = list(results)
    for label, _, _ in QUERIES:
        answers = {n: results[n]["queries"][label][1] for n in names}
        if len(set(answers.values())) != 1:
            raise SystemExit("answers differ for %s: %r" % (label, answers))

    print("## Cluster benchmark (bench/cluster.py)\n")
    print("Machine: %d cores, %s. Data: %s. %d client threads, keep-alive, round robin over the "
          "distributors; query figures over %d rounds after one warm-up.\n" % (
              os.cpu_count(), os.uname().release, samples_note, args.clients, rounds))
    print("| setup | profiles/s | MB/s gz (raw) | push p50 | push p99 | disk writes / byte pushed "
          "(gz / raw) | head on disk | client CPU |")
    print("|---|---|---|---|---|---|---|---|")
    for n in names:
        r = results[n]
        print("| %s | %.0f | %.2f (%.2f) | %.1f ms | %.1f ms | %.2f / %.3f | %.1f MB | %.0f%% |" % (
            n, len(data) / r["secs"], r["sent"] / r["secs"] / 1e6, plain / r["secs"] / 1e6,
            pct(r["lat"], 50) * 1e3, pct(r["lat"], 99) * 1e3, r["written"] / r["sent"],
            r["written"] / plain, r["disk"] / 1e6, 100 * r["client_cpu"] / r["secs"]))
    print("\n| query | " + " | ".join("%s p50 / p99" % n for n in names) + " |")
    print("|---|" + "---|" * len(names))
    for label, _, _ in QUERIES:
        cells = []
        for n in names:
            times = results[n]["queries"][label][0]
            cells.append("%.1f / %.1f ms" % (pct(times, 50) * 1e3, pct(times, 99) * 1e3))
        print("| %s | %s |" % (label, " | ".join(cells)))


if __name__ == "__main__":
    main()
