"""Cluster membership changes under load (issue 3): a fourth ingester joins
and takes over token ranges; an ingester shuts down gracefully (LEAVING,
drains, leaves the ring); etcd restarts while the cluster keeps serving from
its last ring state. Every answer stays equal to the RF=1 answer on the same
acknowledged pushes."""
import os
import signal
import subprocess
import threading
import time
import unittest

from clustertest import ClusterTestCase
from fornax import HTTPError, wait_for
from workload import Load, numbered_pushes, push_all, select_req

CPU = "process_cpu:cpu:nanoseconds:cpu:nanoseconds"


class EtcdWatch:
    """`etcdctl watch --prefix` in the background: every change of the ring
    keys as etcd saw it, however briefly a state lasted."""

    def __init__(self, etcd, prefix):
        self.out = open(os.path.join(etcd.dir, "watch.log"), "w+b")
        env = dict(os.environ, ETCDCTL_API="3")
        self.proc = subprocess.Popen(["etcdctl", "--endpoints=" + etcd.endpoint, "watch", "--prefix",
                                      prefix], stdout=self.out, stderr=subprocess.STDOUT, env=env)
        time.sleep(0.3)  # let it subscribe

    def events(self):
        """[(PUT|DELETE, key, value)] so far."""
        self.out.flush()
        with open(self.out.name, "rb") as f:
            lines = f.read().decode(errors="replace").splitlines()
        out, i = [], 0
        while i < len(lines):
            if lines[i] == "PUT" and i + 2 < len(lines):
                out.append(("PUT", lines[i + 1], lines[i + 2]))
                i += 3
            elif lines[i] == "DELETE" and i + 1 < len(lines):
                out.append(("DELETE", lines[i + 1], ""))
                i += 2
            else:
                i += 1
        return out

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        self.out.close()


def states(events, key):
    """The sequence of distinct states key went through (DELETED at the end)."""
    import json
    seq = []
    for kind, k, v in events:
        if k != key:
            continue
        s = "DELETED" if kind == "DELETE" else json.loads(v)["state"]
        if not seq or seq[-1] != s:
            seq.append(s)
    return seq


class Membership(ClusterTestCase):
    def test_fourth_ingester_joins_under_load(self):
        c = self.c
        before = numbered_pushes(30, "j-before")
        self.assertEqual([s for _, s in push_all(before, c.distributors) if s != 200], [])
        own_before = {k: v["ownership"] for k, v in c.ring().items()}

        load = Load(numbered_pushes(60, "j-during"), c.distributor).start()
        load.wait_done(10)
        c.add_ingester()  # ingester-3, waits for /ready = ACTIVE
        load.join()
        self.assertEqual(load.failed(), [])
        c.wait_active(["ingester-3"])

        # Ownership moved: its 128 tokens took ranges from the others.
        ring = c.ring()
        self.assertEqual(ring["ingester-3"]["tokens"], 128)
        self.assertGreater(ring["ingester-3"]["ownership"], 0.05)
        for k, v in own_before.items():
            self.assertLess(ring[k]["ownership"], v, k)
        self.assertAlmostEqual(sum(i["ownership"] for i in ring.values()), 1.0, places=4)

        # Pushes now go to exactly 3 of the 4 ingesters: count the appends.
        def appended():
            return {i.name: i.metric("fornax_ingester_appended_profiles_total") for i in c.ingesters}

        def sent():
            return sum(d.metric("fornax_distributor_series_profiles_total") for d in c.distributors)

        a0, s0 = appended(), sent()
        after = numbered_pushes(40, "j-after")
        self.assertEqual([s for _, s in push_all(after, c.distributors) if s != 200], [])
        a1, s1 = appended(), sent()
        got = {k: a1[k] - a0[k] for k in a1}
        self.assertEqual(sum(got.values()), 3 * (s1 - s0), got)
        self.assertGreater(got["ingester-3"], 0, "the new ingester takes writes")
        for k, v in got.items():
            self.assertLess(v, s1 - s0, "%s holds every series: ownership did not move" % k)

        # Nothing lost, nothing counted twice: old data on ingesters 0-2
        # only, new data spread over 0-3, answers equal RF=1.
        self.to_reference(before + load.acked() + after)
        self.assert_same_answers(why="after a fourth ingester joined")

    def test_graceful_shutdown_under_load(self):
        c = self.c
        watch = EtcdWatch(c.etcd, "fornax/rings/ingester/")
        try:
            before = numbered_pushes(30, "g-before")
            self.assertEqual([s for _, s in push_all(before, c.distributors) if s != 200], [])

            # SIGTERM ingester-2 while pushes stream in.
            load = Load(numbered_pushes(60, "g-during"), c.distributor, threads=6).start()
            load.wait_done(15)
            leaver = c.nodes["ingester-2"]
            t0 = time.time()
            leaver.stop(signal.SIGTERM)
            stop_s = time.time() - t0
            load.join()
            self.assertEqual(leaver.proc.returncode, 0, leaver.logs())
            self.assertLess(stop_s, 10)
            self.assertEqual(load.failed(), [], "a graceful shutdown must not fail a push")

            # It went LEAVING, then removed itself; every view agrees it is gone.
            key = "fornax/rings/ingester/ingester-2"
            wait_for(lambda: states(watch.events(), key)[-1:] == ["DELETED"], 5, "the DELETE event")
            self.assertEqual(states(watch.events(), key)[-3:], ["ACTIVE", "LEAVING", "DELETED"])
            for node in c.queriers + c.distributors + c.ingesters:
                c.wait_ring(lambda r: sorted(r) == ["ingester-0", "ingester-1"], 5,
                            "ingester-2 gone", via=node)
            logs = leaver.logs()
            self.assertIn("left the ring", logs)
            self.assertNotIn("cancelling calls", logs)  # in-flight calls finished in time

            # Its data now lives only on the two others: still exact.
            after = numbered_pushes(20, "g-after")
            self.assertEqual([s for _, s in push_all(after, c.distributors) if s != 200], [])
            self.to_reference(before + load.acked() + after)
            self.assert_same_answers(why="after a graceful shutdown")
        finally:
            watch.stop()

    def test_etcd_restart(self):
        c = self.c
        before = numbered_pushes(20, "e-before")
        self.assertEqual([s for _, s in push_all(before, c.distributors) if s != 200], [])

        # Pushes and queries run all through the outage and the recovery.
        stop, query_errors = threading.Event(), []

        def query_loop():
            while not stop.is_set():
                try:
                    c.querier().query("SelectMergeStacktraces", select_req(CPU))
                    c.querier().query("LabelValues", {"name": "seq"})
                except (HTTPError, OSError) as e:
                    query_errors.append(e)
                time.sleep(0.05)

        q = threading.Thread(target=query_loop)
        load = Load(numbered_pushes(2000, "e-during"), c.distributor, threads=2, pace=0.05)
        q.start()
        load.start()
        try:
            load.wait_done(10)
            c.etcd.stop()  # SIGTERM by pid
            down_at = load.done()
            # Longer than the heartbeat timeout (3 s): the rings keep their last
            # state instead of declaring everybody dead.
            time.sleep(4.5)
            self.assertGreater(load.done() - down_at, 10, "pushes stalled while etcd was down")
            for node in c.queriers + c.distributors:
                ring = c.ring(via=node)
                # Every ingester still there (an emptied ring would pass all()).
                self.assertEqual(sorted(ring), sorted(i.name for i in c.ingesters), node.name)
                self.assertTrue(all(i["healthy"] for i in ring.values()), (node.name, ring))
            # An ingester started now cannot register: not ready.
            late = c.add_ingester(wait=False)
            time.sleep(1)
            with self.assertRaises(HTTPError) as e:
                late.request("GET", "/ready")
            self.assertEqual(e.exception.status, 503)

            c.etcd.start()
            back_at = load.done()
            # Heartbeats resume; the late ingester registers and becomes ACTIVE.
            late.wait_ready(20)
            c.wait_active(["ingester-0", "ingester-1", "ingester-2", "ingester-3"])
            c.wait_ring(lambda r: all(i["heartbeat_age_ms"] < 1000 for i in r.values()), 10,
                        "fresh heartbeats")
            wait_for(lambda: load.done() > back_at + 20, 20, "pushes after etcd came back")
        finally:
            load.todo.clear()
            load.join()
            stop.set()
            q.join()
        self.assertEqual(load.failed(), [], "pushes failed around the etcd restart")
        self.assertEqual(query_errors, [], "queries failed around the etcd restart")
        after = numbered_pushes(20, "e-after")
        self.assertEqual([s for _, s in push_all(after, c.distributors) if s != 200], [])
        self.to_reference(before + load.acked() + after)
        self.assert_same_answers(why="after the etcd restart")


if __name__ == "__main__":
    unittest.main()
