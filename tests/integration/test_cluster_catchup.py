"""Cluster catch-up (issue 3, docs/cluster.md "Catch-up"): an ingester killed
with kill -9 misses the pushes acknowledged by the other two while it is
down; restarted on its data directory it fetches them from its peers, so it
holds every acknowledged profile of the series it replicates, exactly once,
and answers still equal the RF=1 reference. A second restart re-fetches
nothing new (no double counting), and -ingester.catch-up=false turns it off."""
import os
import unittest

from clustertest import ClusterTestCase
from fornax import wait_for
from workload import T0, Load, _labels, bench_profiles, fixture, ingest, push_all, select_req, with_time

CPU = "process_cpu:cpu:nanoseconds:cpu:nanoseconds"


def timed_pushes(tag, start, n):
    """n pushes of real profiles, each its own series, at T0 + 10 s steps
    from index start (later indices are newer, as pushes over time are)."""
    bench = bench_profiles()
    others = [fixture("pprof", n_ + ".pb.gz") for n_ in ("go-heap", "node-cpu-wall", "node-heap")]
    out = []
    for i in range(start, start + n):
        t = (T0 + 10 * i) * 10**9
        body = with_time(others[(i // 4) % len(others)] if i % 4 == 3 else bench[i % len(bench)], t)
        out.append(ingest("%s{seq=%s-%d,pod=p%d}" % (tag, tag, i, i % 3), body, "%s #%d" % (tag, i),
                          format="pprof"))
    return out


def series_sent(c):
    return sum(d.metric("fornax_distributor_series_profiles_total") for d in c.distributors)


class CatchUp(ClusterTestCase):
    def push_ok(self, pushes):
        self.assertEqual([(p.what, s) for p, s in push_all(pushes, self.c.distributors) if s != 200], [])
        self.to_reference(pushes)

    def wait_caught_up(self, node):
        wait_for(lambda: node.metric("fornax_ingester_catchup_done") == 1, 60, node.name + " caught up")

    def test_restarted_ingester_catches_up_exactly_once(self):
        c = self.c
        self.push_ok(timed_pushes("cu-before", 0, 12))
        victim = c.nodes["ingester-1"]
        victim.kill9()

        # While it is down, quorum writes go to the other two only.
        sent0 = series_sent(c)
        self.push_ok(timed_pushes("cu-down", 12, 32))
        missed = series_sent(c) - sent0
        self.assertGreaterEqual(missed, 32)

        # Restart while pushes of much newer profiles stream in: they must
        # not move the catch-up window (fixed at open) past what it missed.
        sent0 = series_sent(c)
        live = timed_pushes("cu-live", 200, 24)
        load = Load(live, c.distributor, threads=2, pace=0.05).start()
        c.restart("ingester-1")
        load.join()
        self.assertEqual(load.failed(), [])
        self.to_reference(load.acked())
        live_sent = series_sent(c) - sent0
        c.wait_active(["ingester-1"])
        victim = c.nodes["ingester-1"]
        self.wait_caught_up(victim)
        self.assertEqual(victim.metric("fornax_ingester_catchup_errors_total"), 0)
        # The series profiles it missed (RF=3 on 3 ingesters: it replicates
        # every series), plus live ones sent before it was back; none twice
        # (the second peer skips what the first covered).
        fetched = victim.metric("fornax_ingester_catchup_profiles_total")
        self.assertGreaterEqual(fetched, missed)
        self.assertLessEqual(fetched, missed + live_sent)
        self.assertGreater(victim.metric("fornax_ingester_catchup_bytes_total"), 0)
        # Profiles of the margin window it already had were received and skipped.
        self.assertGreater(victim.metric("fornax_ingester_catchup_skipped_total"), 0)
        self.assertIn("catch-up: finished", victim.logs())
        # Finished without errors: no window is left pending for the next start.
        self.assertFalse(os.path.exists(os.path.join(victim.data_dir, "catchup", "pending")))
        self.assert_same_answers(why="after catch-up")

        # Writes after the restart reach it live.
        self.push_ok(timed_pushes("cu-after", 44, 8))

        # A rerun (kill -9 again, restart) appends nothing twice: every
        # profile fetched is already there.
        victim.kill9()
        c.restart("ingester-1")
        c.wait_active(["ingester-1"])
        victim = c.nodes["ingester-1"]
        self.wait_caught_up(victim)
        self.assertEqual(victim.metric("fornax_ingester_catchup_profiles_total"), 0)
        self.assertGreater(victim.metric("fornax_ingester_catchup_skipped_total"), 0)
        self.assertEqual(victim.metric("fornax_ingester_appended_profiles_total"), 0)
        self.assert_same_answers(why="after a second catch-up")

        # With the other two gone (SIGTERM: they leave the ring), ingester-1
        # alone answers exactly as RF=1 for everything: it holds each
        # acknowledged profile, and each once.
        for name in ("ingester-0", "ingester-2"):
            c.nodes[name].stop()
            self.assertEqual(c.nodes[name].proc.returncode, 0)
        c.wait_ring(lambda r: sorted(r) == ["ingester-1"], 10, "only ingester-1 left")
        self.assert_same_answers(why="ingester-1 alone after catch-up")


class CatchUpCrash(ClusterTestCase):
    # Slow pages (the rate limit), so a kill -9 lands in the middle.
    cluster_args = {"flags": ["-ingester.catch-up-rate-limit=96KiB", "-ingester.catch-up-page-size=64KiB"]}

    def test_kill9_during_catch_up(self):
        c = self.c
        before = timed_pushes("cc-before", 0, 8)
        self.assertEqual([s for _, s in push_all(before, c.distributors) if s != 200], [])
        c.nodes["ingester-0"].kill9()
        down = timed_pushes("cc-down", 8, 60)
        self.assertEqual([s for _, s in push_all(down, c.distributors) if s != 200], [])
        self.to_reference(before + down)

        c.restart("ingester-0")
        node = c.nodes["ingester-0"]
        # Killed once the first page is appended, before the last one.
        wait_for(lambda: node.metric("fornax_ingester_catchup_profiles_total") > 0, 30, "a first page")
        self.assertEqual(node.metric("fornax_ingester_catchup_done"), 0, "catch-up too fast to interrupt")
        first = node.metric("fornax_ingester_catchup_profiles_total")
        node.kill9()
        pending = os.path.join(node.data_dir, "catchup", "pending")
        self.assertTrue(os.path.exists(pending), "an interrupted catch-up leaves its window")

        # The rerun starts from the recorded window (the appended pages moved
        # the head's newest profile forward), fetches the rest and no more.
        c.restart("ingester-0")
        node = c.nodes["ingester-0"]
        self.wait_caught_up(node)
        self.assertEqual(node.metric("fornax_ingester_catchup_errors_total"), 0)
        self.assertFalse(os.path.exists(pending))
        # (Appends between reading `first` and the kill are skipped now.)
        self.assertGreater(node.metric("fornax_ingester_catchup_profiles_total"), 0)
        self.assertLess(first, len(down))
        for name in ("ingester-1", "ingester-2"):
            c.nodes[name].stop()
        c.wait_ring(lambda r: sorted(r) == ["ingester-0"], 10, "only ingester-0 left")
        self.assert_same_answers(why="ingester-0 alone after an interrupted catch-up")

    wait_caught_up = CatchUp.wait_caught_up


def cpu_pushes(tag, start, n, offset=0):
    """n Go CPU pushes, series seq=<tag>-<i>, at T0 + 10 s * i + offset."""
    bench = bench_profiles()
    return [ingest("%s{seq=%s-%d}" % (tag, tag, i), with_time(bench[i % len(bench)], (T0 + 10 * i + offset) * 10**9),
                   "%s #%d" % (tag, i), format="pprof") for i in range(start, start + n)]


def points_by_seq(node, selector):
    ss = node.query("SelectSeries", select_req(CPU, selector, step=1.0, groupBy=["seq"]))
    out = {}
    for s in ss.get("series", []):
        pts = tuple((int(p["timestamp"]), p["value"]) for p in s.get("points", []) if p["value"])
        out[dict(_labels(s))["seq"]] = pts
    return out


class CatchUpFour(ClusterTestCase):
    """4 ingesters, RF=3: each series is on 3 of them, so catch-up must
    fetch exactly the series whose replication set holds the restarted one."""
    cluster_args = {"ingesters": 4}

    def test_only_the_series_it_replicates(self):
        c = self.c
        self.assertEqual([s for _, s in push_all(cpu_pushes("cf-before", 0, 6), c.distributors) if s != 200], [])
        victim = c.nodes["ingester-3"]
        victim.kill9()
        down = cpu_pushes("cf-down", 6, 40)
        self.assertEqual([s for _, s in push_all(down, c.distributors) if s != 200], [])
        c.restart("ingester-3")
        c.wait_active(["ingester-3"])
        victim = c.nodes["ingester-3"]
        self.wait_caught_up(victim)
        self.assertEqual(victim.metric("fornax_ingester_catchup_errors_total"), 0)
        fetched = victim.metric("fornax_ingester_catchup_profiles_total")
        # One more profile of each series, live: the distributor sends it to
        # exactly the series' replication set.
        again = cpu_pushes("cf-down", 6, 40, offset=5)
        self.assertEqual([s for _, s in push_all(again, c.distributors) if s != 200], [])
        self.to_reference(down + again)
        for name in ("ingester-0", "ingester-1", "ingester-2"):
            c.nodes[name].stop()
        c.wait_ring(lambda r: sorted(r) == ["ingester-3"], 10, "only ingester-3 left")
        got = points_by_seq(c.querier(), '{service_name="cf-down"}')
        want = points_by_seq(self.ref, '{service_name="cf-down"}')
        # Every series it replicates (it got the live profile) has the
        # fetched one too, each once (the values of RF=1). A series it does
        # not replicate may have been fetched (the head does not keep the
        # __delta__ label /ingest adds, so the peer cannot tell which of two
        # tokens it had): an extra copy, never a missing one.
        replicated = extra = 0
        for seq, pts in got.items():
            old, new = want[seq]
            self.assertIn(old, pts, seq)
            self.assertEqual(pts, want[seq] if new in pts else (old,), seq)
            replicated += new in pts
            extra += new not in pts
        self.assertTrue(0 < replicated < len(want), (replicated, len(want)))
        # (Plus extra copies of cf-before series, in the margin window.)
        self.assertTrue(replicated + extra <= fetched <= replicated + extra + 6, (fetched, replicated, extra))

    wait_caught_up = CatchUp.wait_caught_up


class CatchUpOff(ClusterTestCase):
    cluster_args = {"flags": ["-ingester.catch-up=false"]}

    def test_disabled(self):
        c = self.c
        pushes = timed_pushes("off-before", 0, 4)
        self.assertEqual([s for _, s in push_all(pushes, c.distributors) if s != 200], [])
        c.nodes["ingester-2"].kill9()
        down = timed_pushes("off-down", 4, 8)
        self.assertEqual([s for _, s in push_all(down, c.distributors) if s != 200], [])
        c.restart("ingester-2")
        c.wait_active(["ingester-2"])
        node = c.nodes["ingester-2"]
        self.assertEqual(node.metric("fornax_ingester_catchup_done"), 1)
        self.assertEqual(node.metric("fornax_ingester_catchup_profiles_total"), 0)
        self.assertEqual(node.metric("fornax_ingester_appended_profiles_total"), 0)
        self.assertNotIn("catch-up: starting", node.logs())
        # So alone it lacks what it missed: the comparison above can fail.
        self.to_reference(pushes + down)
        for name in ("ingester-0", "ingester-1"):
            c.nodes[name].stop()
        c.wait_ring(lambda r: sorted(r) == ["ingester-2"], 10, "only ingester-2 left")
        with self.assertRaises(AssertionError):
            self.assert_same_answers(why="ingester-2 alone without catch-up")
        self.assert_same_answers('{service_name="off-before"}', why="what it had")


if __name__ == "__main__":
    unittest.main()
