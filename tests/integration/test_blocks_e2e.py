"""test_blocks_e2e - the whole life of a profile in long-term storage, end to
end on real processes: push -> ingester head -> block cut every second,
uploaded to a real S3 server that verifies SigV4 (npm @20minutes/s3rver,
tests/lib/s3server.py) -> served by the ingester from its local copy ->
after -ingester.local-block-retention served only by the store-gateway
(the querier sends data older than -querier.query-store-after there) ->
merged by the compactor, the inputs deleted after the deletion delay.

At every stage the querier's answers (flame graphs with and without
max_nodes, SelectSeries sums and averages grouped by pod, label values,
profile types) must equal the answers before the cut and those of a
reference node that never cuts; the flame graph total must equal the CPU
time of the pushed profiles, computed here from the pprof bytes. The bucket
must hold exactly the expected keys at each stage (listed with signed
requests).

SingleNode runs `fornax -target=all`. Replicated runs the cluster of
issue 3 (etcd, 3 ingesters with RF=3, a distributor, a querier) plus a
store-gateway and a compactor as separate processes: each ingester uploads
its own replica block of each window, so the gateway sees three copies of
every profile, before and across the query-store-after boundary, and the
compactor merges nine blocks into one holding every profile once.

Timeline (W = the first window's start, windows of D = 1 s, all data in
[W, W + 3 s), pushed before W with timestamps in the near future):
  W+2..W+4   windows cut after the 1 s cut delay, uploaded, served locally
  W+8        -querier.query-store-after=8s: the boundary passes W
  W+9.5      the boundary is inside the data: window 1 from the gateway,
             windows 2 and 3 from the ingesters
  W+11.75..  -ingester.local-block-retention=11s retires the local copies
  W+4+14     -compactor.first-level-compaction-wait-period=14s: compaction
"""
import json
import os
import shutil
import threading
import time
import unittest

from fornax import BULK_FLAGS, TEST_FLAGS, Cluster, Fornax, wait_for
import s3server
from s3server import S3rver
from workload import bench_profiles, ingest, pprof_content, with_time

CPU = "process_cpu:cpu:nanoseconds:cpu:nanoseconds"
SAMPLES = "process_cpu:samples:count:cpu:nanoseconds"
SERVICE = "blocks-e2e"
D = 1            # -ingester.max-block-duration, seconds
WINDOWS = 3
PER_WINDOW = 4   # profiles per window, 0.25 s apart, over 3 pods
STORE_AFTER = 8  # -querier.query-store-after
RETENTION = 11   # -ingester.local-block-retention (must exceed STORE_AFTER)
FIRST_WAIT = 14  # -compactor.first-level-compaction-wait-period
RANGE = D * WINDOWS  # -compactor.block-ranges: the three windows make one block

BLOCK_FLAGS = [
    "-ingester.max-block-duration=%ds" % D, "-ingester.block-cut-delay=1s",
    "-ingester.local-block-retention=%ds" % RETENTION,
    "-querier.query-store-after=%ds" % STORE_AFTER,
    "-store-gateway.sync-interval=500ms",
    "-compactor.compaction-interval=1s", "-compactor.block-ranges=%ds" % RANGE,
    "-compactor.first-level-compaction-wait-period=%ds" % FIRST_WAIT,
    "-compactor.deletion-delay=2s", "-compactor.ring.wait-stability-min-duration=0s",
]
SECTIONS = ("index.fxb", "meta.json", "profiles.fxb", "symbols.fxb")


def wait_until(t):
    """Sleeps until the wall clock reaches t (seconds)."""
    if t > time.time():
        time.sleep(t - time.time())


def base_flags():
    return [f for f in TEST_FLAGS if not f.startswith(("-ingester.max-block-duration",
                                                       "-querier.query-store-after"))] + BULK_FLAGS


def plan_pushes():
    """W (seconds, aligned to the compaction range, at least 3 s ahead so the
    pushes and the first answers come before the first cut) and the pushes:
    real Go CPU profiles of bench/data with timestamps inside the windows."""
    now = time.time()
    w = int((now + 3) // RANGE + 1) * RANGE
    bench = bench_profiles()
    pushes, cpu_total = [], 0
    for k in range(WINDOWS * PER_WINDOW):
        body = with_time(bench[k % len(bench)], int((w + k * D / PER_WINDOW) * 1e9))
        content = pprof_content(body)
        col = content["types"].index("cpu/nanoseconds")
        cpu_total += sum(v[col] for v in content["stacks"].values())
        pushes.append(ingest("%s{pod=p%d}" % (SERVICE, k % 3), body, "profile %d" % k, format="pprof"))
    return w, pushes, cpu_total


def answers(node, w):
    """The querier's answers over the data (and a minute either side)."""
    rng = {"start": (w - 60) * 1000, "end": (w + RANGE + 60) * 1000}
    q = node.query
    out = {}
    for sel in ('{service_name="%s"}' % SERVICE, '{service_name="%s", pod="p1"}' % SERVICE):
        for t in (CPU, SAMPLES):
            out["fg %s %s" % (t, sel)] = q("SelectMergeStacktraces",
                                           dict(rng, profileTypeID=t, labelSelector=sel))
        out["fg all nodes " + sel] = q("SelectMergeStacktraces", dict(
            rng, profileTypeID=CPU, labelSelector=sel, maxNodes=1 << 20))
        for agg in ("TIME_SERIES_AGGREGATION_TYPE_SUM", "TIME_SERIES_AGGREGATION_TYPE_AVERAGE"):
            for by in ([], ["pod"]):
                # step 1 s: every bucket (t - 1 s, t] holds profiles of two
                # windows, i.e. of two blocks.
                out["ts %s %s %s" % (agg, by, sel)] = q("SelectSeries", dict(
                    rng, profileTypeID=CPU, labelSelector=sel, step=1.0, groupBy=by,
                    aggregation=agg))
    out["pods"] = q("LabelValues", dict(rng, name="pod"))
    out["types"] = q("ProfileTypes", rng)
    return out


def diff(a, b):
    return "\n".join("%s:\n  got  %s\n  want %s" % (k, str(a.get(k))[:300], str(b.get(k))[:300])
                     for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k))[:3000]


def blocks_of(keys, tenant="anonymous"):
    """{ULID: sorted file names} of the keys under tenant/."""
    out = {}
    for k in keys:
        t, ulid, name = k.split("/", 2)
        if t == tenant:
            out.setdefault(ulid, []).append(name)
    return {u: sorted(v) for u, v in out.items()}


class BlocksE2E:
    """The flow, shared by the single-node and the replicated setups.
    Subclasses start `self.push_to`, `self.query_at` (nodes) and
    `self.metric(name)` (summed over the relevant processes)."""

    replicas = 1

    def setUp(self):
        why = s3server.available()
        if why:
            self.skipTest(why)
        self.s3 = S3rver().start()
        self.ref = None
        self.extra_cleanup = []
        try:
            # A node that never cuts: the answers everything must equal.
            self.ref = Fornax(base_flags() + ["-ingester.max-block-duration=0",
                                              "-querier.query-store-after=0"], name="reference").start()
            self.start_system()
        except BaseException:
            self.tearDown()
            raise

    def tearDown(self):
        outcome = getattr(self, "_outcome", None)
        if (outcome is not None and not getattr(outcome, "success", True)) or os.environ.get("FORNAX_VERBOSE"):
            print(self.logs())
        for f in self.extra_cleanup:
            f()
        if self.ref:
            self.ref.cleanup()
        self.s3.cleanup()

    def check(self, stage, w, want):
        got = answers(self.query_at, w)
        self.assertEqual(got, want, "%s: answers differ from those before the cut\n%s" % (
            stage, diff(got, want)))

    def bucket(self):
        return blocks_of(self.s3.keys("anonymous/"))

    def meta(self, ulid):
        return json.loads(self.s3.get("anonymous/%s/meta.json" % ulid))

    def test_answers_through_the_life_of_a_block(self):
        w, pushes, cpu_total = plan_pushes()
        for p in pushes:
            self.assertEqual(p.send(self.push_to), 200, p.what)
            self.assertEqual(p.send(self.ref), 200, p.what)

        # Before the cut: everything in the ingesters' heads.
        before = answers(self.query_at, w)
        self.assertEqual(self.metric("fornax_ingester_blocks_cut_total"), 0,
                         "a block was cut before the first answers were taken (machine too slow?)")
        ref = answers(self.ref, w)
        self.assertEqual(before, ref, "before the cut: answers differ from the reference\n" + diff(before, ref))
        fg = before['fg %s {service_name="%s"}' % (CPU, SERVICE)]["flamegraph"]
        self.assertEqual(int(fg["total"]), cpu_total, "the flame graph total is not the pushed CPU time")
        self.assertEqual(sorted(before["pods"]["names"]), ["p0", "p1", "p2"])
        self.assertEqual(self.bucket(), {})

        # Queries run all the time from here on: none may fail, and every
        # flame graph total must be the pushed CPU time (no profile missing
        # or counted twice while blocks move between stores).
        stop, bad = threading.Event(), []

        def watch():
            req = {"start": (w - 60) * 1000, "end": (w + RANGE + 60) * 1000, "profileTypeID": CPU,
                   "labelSelector": '{service_name="%s"}' % SERVICE}
            while not stop.is_set():
                try:
                    t = int(self.query_at.query("SelectMergeStacktraces", req)["flamegraph"]["total"])
                    if t != cpu_total:
                        bad.append((round(time.time() - w, 2), t))
                except Exception as e:  # noqa: BLE001 - recorded and reported
                    bad.append((round(time.time() - w, 2), repr(e)))
                time.sleep(0.05)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            self.flow(w, before)
        finally:
            stop.set()
            watcher.join()
        self.assertEqual(bad, [], "answers during the flow (seconds after W, total or error)")

    def flow(self, w, before):
        n = WINDOWS * self.replicas

        # After the cut: every window uploaded by every replica, nothing
        # retired yet, all data newer than the query-store-after boundary,
        # so the ingesters answer from their local copies.
        wait_for(lambda: self.metric("fornax_ingester_blocks_uploaded_total") >= n, 15, "the uploads")
        self.assertLess(time.time(), w + STORE_AFTER - 1, "too slow to check before the boundary")
        self.check("after the cut (ingesters serve their blocks)", w, before)
        self.assertEqual(self.metric("fornax_ingester_local_blocks_retired_total"), 0)
        blocks = self.bucket()
        self.assertEqual(len(blocks), n, blocks)
        for ulid, files in blocks.items():
            self.assertEqual(files, list(SECTIONS), ulid)
            m = self.meta(ulid)
            self.assertEqual(m["compaction"], {"level": 1, "sources": [ulid]})
            self.assertTrue(w * 1000 <= m["minTime"] <= m["maxTime"] < (w + RANGE) * 1000, m)
        per_window = {}
        for ulid in blocks:
            m = self.meta(ulid)
            per_window.setdefault(m["minTime"] // (D * 1000), []).append(m["stats"]["numProfiles"])
        # Each window once per replica, every replica with the same profiles.
        self.assertEqual(len(per_window), WINDOWS, per_window)
        for counts in per_window.values():
            self.assertEqual(len(counts), self.replicas)
            self.assertEqual(len(set(counts)), 1, per_window)
        l1 = set(blocks)

        # Across the boundary: the first window is older than
        # query-store-after (store-gateway), the others are still newer
        # (ingesters).
        wait_until(w + STORE_AFTER + 1.5)
        self.assertLess(time.time(), w + RETENTION + 0.5, "too slow: the first window was retired")
        self.check("across the query-store-after boundary", w, before)

        # After the local retention: the ingesters serve nothing of it any
        # more; the store-gateway answers from the replica blocks.
        wait_for(lambda: self.metric("fornax_ingester_local_blocks_retired_total") >= n, 15,
                 "the local copies to be retired")
        self.assertEqual(self.metric("fornax_compactor_compactions_total"), 0,
                         "compacted before the retention stage could be checked")
        self.assertEqual(self.metric("fornax_store_gateway_blocks_loaded"), n)
        self.check("after the local retention (store-gateway only)", w, before)

        # After compaction: one block holding every profile once; its inputs
        # marked, then deleted after the deletion delay.
        wait_for(lambda: self.metric("fornax_compactor_compactions_total") >= 1, 20, "the compaction")
        wait_for(lambda: len(self.bucket()) == 1, 15, "the inputs to be deleted")
        blocks = self.bucket()
        (ulid, files), = blocks.items()
        self.assertEqual(files, list(SECTIONS))
        self.assertNotIn(ulid, l1)
        m = self.meta(ulid)
        self.assertEqual(m["compaction"]["level"], 2)
        self.assertEqual(set(m["compaction"]["sources"]), l1)
        self.assertEqual(m["stats"]["numProfiles"], sum(c[0] for c in per_window.values()),
                         "replica profiles are in the compacted block more than once")
        self.assertEqual(self.metric("fornax_compactor_duplicate_profiles_removed_total"),
                         (self.replicas - 1) * m["stats"]["numProfiles"])
        wait_for(lambda: self.metric("fornax_store_gateway_blocks_loaded") == 1, 15,
                 "the gateway to serve only the compacted block")
        self.check("after compaction", w, before)


class SingleNode(BlocksE2E, unittest.TestCase):
    """`fornax -target=all` (every module in one process) on the S3 bucket."""

    def start_system(self):
        self.node = Fornax(base_flags() + self.s3.flags() + BLOCK_FLAGS, name="all").start()
        self.extra_cleanup.append(self.node.cleanup)
        self.push_to = self.query_at = self.node

    def metric(self, name):
        return self.node.metric(name)

    def logs(self):
        return "--- fornax ---\n" + self.node.logs()


class Replicated(BlocksE2E, unittest.TestCase):
    """etcd, 3 ingesters (RF=3), a distributor, a querier, a store-gateway
    and a compactor, each its own process, on the S3 bucket."""

    replicas = 3

    def start_system(self):
        if shutil.which("etcd") is None:
            self.skipTest("etcd is not installed (make test installs etcd-server)")
        # Cluster adds TEST_FLAGS first: ours come later and win.
        self.c = Cluster(ingesters=3, distributors=1, queriers=1,
                         flags=self.s3.flags() + BLOCK_FLAGS + ["-querier.query-store-after=%ds" % STORE_AFTER,
                                                                "-ingester.max-block-duration=%ds" % D])
        self.extra_cleanup.append(self.c.cleanup)
        self.c.start()
        for role in ("store-gateway", "compactor"):
            self.c._node(role + "-0", role).start()
        self.push_to = self.c.distributors[0]
        self.query_at = self.c.queriers[0]

    def metric(self, name):
        return sum(f.metric(name) for f in self.c.nodes.values() if f.alive)

    def logs(self):
        return self.c.logs()


if __name__ == "__main__":
    unittest.main()
