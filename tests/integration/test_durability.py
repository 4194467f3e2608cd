"""Durability (issue 2): kill -9 fornax during a stream of pushes, restart it
on the same data directory, and find every acknowledged profile."""
import threading
import time
import unittest

from fornax import Fornax, HTTPError

from fornax import TEST_FLAGS as FLAGS  # noqa: E402


class Durability(unittest.TestCase):
    def test_kill9_loses_no_acknowledged_push(self):
        f = Fornax(FLAGS).start()
        acked, stop = [], threading.Event()

        def pusher(worker):
            i = 0
            while not stop.is_set():
                seq = "%d-%d" % (worker, i)
                try:
                    status, _, _ = f.ingest({"name": "durable.cpu{seq=%s}" % seq, "sampleRate": "100"},
                                            b"main;work;leaf_%d %d\n" % (i % 7, 1 + i % 5), timeout=5)
                except (HTTPError, OSError):
                    return  # the server died under us: this push was not acknowledged
                if status == 200:
                    acked.append((seq, 1 + i % 5))
                i += 1

        threads = [threading.Thread(target=pusher, args=(w,)) for w in range(4)]
        for t in threads:
            t.start()
        deadline = time.time() + 30
        while len(acked) < 500 and time.time() < deadline:
            time.sleep(0.05)
        f.kill9()
        stop.set()
        for t in threads:
            t.join()
        self.assertGreaterEqual(len(acked), 500, "too few pushes before the kill")

        g = Fornax(FLAGS, data_dir=f.data_dir, http_port=f.http_port, grpc_port=f.grpc_port)
        g.own_dir = True
        try:
            g.start()
            seqs = set(g.query("LabelValues", {"name": "seq", "start": 0, "end": 4102444800000})["names"])
            missing = [s for s, _ in acked if s not in seqs]
            self.assertEqual(missing, [], "acknowledged pushes lost after kill -9")
            # And the values are intact, not just the series.
            total = g.query("SelectMergeStacktraces", {
                "profileTypeID": "process_cpu:cpu:nanoseconds:cpu:nanoseconds",
                "labelSelector": '{service_name="durable"}', "start": 0, "end": 4102444800000})
            self.assertGreaterEqual(int(total["flamegraph"]["total"]), sum(v for _, v in acked) * 10000000)
        finally:
            g.cleanup()


if __name__ == "__main__":
    unittest.main()
