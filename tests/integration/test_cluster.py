"""Cluster (issue 3): etcd, 2 distributors, 3 ingesters, 2 queriers as
separate processes on loopback, replication factor 3. Steady pushes of real
profiles give exactly the answers of a single node with RF=1; kill -9 of an
ingester during pushes loses no acknowledged profile and changes no answer;
the restarted ingester replays its WAL and rejoins; the ring pages show all
of it and forget an unhealthy instance."""
import os
import threading
import time
import unittest

from clustertest import ClusterTestCase
from fornax import Fornax, HTTPError, go_pprof_totals, wait_for
from workload import (Load, answers, flamegraph_total, merge_profile, numbered_pushes, push_all,
                      real_pushes, select_req)

CPU = "process_cpu:cpu:nanoseconds:cpu:nanoseconds"


class Steady(ClusterTestCase):
    def test_steady_pushes_answer_exactly_as_rf1(self):
        c = self.c
        pushes = real_pushes(n_bench=40)
        # Queries run while the pushes stream in; none may fail.
        stop, query_errors = threading.Event(), []

        def query_loop():
            while not stop.is_set():
                try:
                    c.querier().query("SelectMergeStacktraces", select_req(CPU))
                    c.querier().query("LabelNames", {})
                except (HTTPError, OSError) as e:
                    query_errors.append(e)
                time.sleep(0.02)

        t = threading.Thread(target=query_loop)
        t.start()
        try:
            results = push_all(pushes, c.distributors, threads=4)
        finally:
            stop.set()
            t.join()
        self.assertEqual([(p.what, s) for p, s in results if s != 200], [])
        self.assertEqual(query_errors, [])
        self.to_reference(pushes)
        want = self.assert_same_answers(why="steady pushes")

        # SelectMergeProfile is a pprof that go tool pprof reads with the
        # same totals as the reference's (and as the pushed inputs).
        for ptype in (CPU, "wall:wall:nanoseconds:wall:nanoseconds"):
            got = go_pprof_totals(merge_profile(c.querier(), ptype))
            self.assertEqual(got, go_pprof_totals(merge_profile(self.ref, ptype)), ptype)
        # (Totals of the pprof itself, decoded here: go tool pprof -raw does
        # not list the one location-less sample of bench/data/go-cpu-18.)
        merged = want["SelectMergeProfile " + CPU]["stacks"]
        self.assertEqual(flamegraph_total(want["FlameGraph " + CPU]), sum(v[0] for v in merged.values()))

        # Every profile really is on 3 ingesters: each one's head appended
        # as many series profiles as all distributors sent.
        sent = sum(d.metric("fornax_distributor_series_profiles_total") for d in c.distributors)
        self.assertGreater(sent, len(pushes))
        for i in c.ingesters:
            self.assertEqual(i.metric("fornax_ingester_appended_profiles_total"), sent, i.name)

        # Control: a querier that does not deduplicate replicas (RF=1 on the
        # same ring) counts every profile three times. The comparison above
        # would have caught that.
        naive = Fornax(c.nodes["querier-0"].args + ["-distributor.replication-factor=1"],
                       data_dir=os.path.join(c.dir, "naive"), name="naive-querier").start()
        try:
            fg = naive.query("SelectMergeStacktraces", select_req(CPU))["flamegraph"]
            self.assertEqual(flamegraph_total(fg), 3 * flamegraph_total(want["FlameGraph " + CPU]))
        finally:
            naive.stop()

    def test_ring_pages(self):
        c = self.c
        for node in c.queriers + c.distributors + c.ingesters:
            ring = c.ring(via=node)
            self.assertEqual(sorted(ring), ["ingester-0", "ingester-1", "ingester-2"], node.name)
            for inst in ring.values():
                self.assertEqual((inst["state"], inst["healthy"], inst["tokens"]), ("ACTIVE", True, 128))
                self.assertLess(inst["heartbeat_age_ms"], 3000)
                self.assertTrue(inst["address"].startswith("127.0.0.1:"))
            self.assertAlmostEqual(sum(i["ownership"] for i in ring.values()), 1.0, places=4)
        dring = c.ring("/distributor/ring")
        self.assertEqual(sorted(dring), ["distributor-0", "distributor-1"])
        self.assertTrue(all(d["state"] == "ACTIVE" and d["healthy"] for d in dring.values()))
        # The same instances in etcd, one key each.
        keys = c.etcd.keys("fornax/rings/ingester/")
        self.assertEqual(sorted(keys), ["fornax/rings/ingester/ingester-%d" % i for i in range(3)])
        # HTML for people: a table with every instance, no forget button while healthy.
        _, html, headers = c.querier().request("GET", "/ring")
        html = html.decode()
        self.assertTrue(headers["Content-Type"].startswith("text/html"))
        for i in range(3):
            self.assertIn("<td>ingester-%d</td>" % i, html)
        self.assertNotIn("Forget", html)
        # forget needs an instance id.
        with self.assertRaises(HTTPError) as e:
            c.querier().request("POST", "/ring", b"nothing=1",
                                {"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(e.exception.status, 400)
        self.assertIn("forget=<instance id>", e.exception.body)


class Failures(ClusterTestCase):
    def test_kill9_ingester_during_pushes_then_restart(self):
        c = self.c
        before = numbered_pushes(24, "k-before")
        results = push_all(before, c.distributors)
        self.assertEqual([(p.what, s) for p, s in results if s != 200], [])

        # kill -9 ingester-1 while pushes stream in.
        load = Load(numbered_pushes(60, "k-during"), c.distributor).start()
        load.wait_done(15)
        victim = c.nodes["ingester-1"]
        victim.kill9()
        load.join()
        self.assertEqual(load.failed(), [], "RF=3 must accept every push with one ingester down")
        self.to_reference(before + load.acked())
        self.assert_same_answers(why="right after kill -9")

        # Once its heartbeat times out the ring says so, and nothing changes.
        c.wait_ring(lambda r: not r["ingester-1"]["healthy"], 10, "ingester-1 unhealthy")
        down = numbered_pushes(20, "k-down")
        self.assertEqual([s for _, s in push_all(down, c.distributors) if s != 200], [])
        self.to_reference(down)
        self.assert_same_answers(why="ingester-1 unhealthy")

        # Restart on the same data directory during pushes: WAL replay,
        # same tokens, ACTIVE again.
        tokens_file = os.path.join(victim.data_dir, "ring", "tokens")
        with open(tokens_file) as f:
            tokens_before = f.read()
        load = Load(numbered_pushes(40, "k-restart"), c.distributor).start()
        load.wait_done(5)
        c.restart("ingester-1")
        load.join()
        self.assertEqual(load.failed(), [])
        c.wait_active(["ingester-1"])
        with open(tokens_file) as f:
            self.assertEqual(f.read(), tokens_before, "a restarted ingester keeps its tokens")
        after = numbered_pushes(20, "k-after")
        self.assertEqual([s for _, s in push_all(after, c.distributors) if s != 200], [])
        self.to_reference(load.acked() + after)
        self.assert_same_answers(why="after the restart")

        # The restarted ingester really serves what it had before the kill
        # (from its WAL) and what it got after rejoining: with the other two
        # gone (SIGTERM: they leave the ring), the cluster answers from
        # ingester-1 alone, exactly for those profiles.
        for name in ("ingester-0", "ingester-2"):
            c.nodes[name].stop()
            self.assertEqual(c.nodes[name].proc.returncode, 0)
        c.wait_ring(lambda r: sorted(r) == ["ingester-1"], 10, "only ingester-1 left")
        self.assert_same_answers('{service_name=~"k-before|k-after"}', why="ingester-1 alone")

    def test_forget_unhealthy_instance(self):
        c = self.c
        c.nodes["ingester-2"].kill9()
        ring = c.wait_ring(lambda r: not r["ingester-2"]["healthy"] and r, 10, "ingester-2 unhealthy")
        self.assertEqual(ring["ingester-2"]["state"], "ACTIVE")  # it never said goodbye
        _, html, _ = c.querier().request("GET", "/ring")
        html = html.decode()
        self.assertIn("(unhealthy)", html)
        self.assertIn('name="forget" value="ingester-2"', html)
        # The HTML form's POST, on a distributor's page this time.
        status, body, _ = c.distributor().request(
            "POST", "/ring", b"forget=ingester-2", {"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(status, 200)
        self.assertNotIn("<td>ingester-2</td>", body.decode())
        for node in c.queriers + c.distributors:
            c.wait_ring(lambda r: sorted(r) == ["ingester-0", "ingester-1"], 5, "ingester-2 forgotten",
                        via=node)
        self.assertNotIn("fornax/rings/ingester/ingester-2", c.etcd.keys("fornax/rings/ingester/"))
        # With it forgotten, writes go to the two left and queries are exact.
        pushes = numbered_pushes(20, "forgot")
        self.assertEqual([s for _, s in push_all(pushes, c.distributors) if s != 200], [])
        self.to_reference(pushes)
        self.assert_same_answers(why="after forget")


if __name__ == "__main__":
    unittest.main()
