"""deploy/local/cluster.sh (issue 3): `up` starts etcd, 2 distributors, 3
ingesters and 2 queriers under FORNAX_RUN_DIR, prints the push and query URLs
and writes them to cluster.env; the cluster takes a push and answers it;
`status` lists every process; `down` stops exactly the processes `up`
started."""
import os
import random
import shutil
import socket
import subprocess
import time
import tempfile
import unittest
import urllib.parse

from fornax import BIN, ROOT, TEST_FLAGS, Fornax, fixture
from workload import flamegraph_total, select_req

SCRIPT = os.path.join(ROOT, "deploy", "local", "cluster.sh")


def free_block(n=100):
    """A base port with n free ports after it (cluster.sh uses base..base+99)."""
    for _ in range(50):
        base = random.randrange(20000, 30000)
        try:
            socks = []
            for p in range(base, base + n):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", p))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no block of %d free ports" % n)


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its parent) is not running.
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()[0] != "Z"


class ClusterScript(unittest.TestCase):
    def setUp(self):
        self.run_dir = tempfile.mkdtemp(prefix="fornax-cluster-sh-")
        self.env = dict(os.environ, FORNAX_RUN_DIR=self.run_dir, FORNAX_BIN=BIN,
                        FORNAX_BASE_PORT=str(free_block()),
                        FORNAX_EXTRA_FLAGS=" ".join(TEST_FLAGS + ["-ring.heartbeat-period=500ms"]))

    def tearDown(self):
        self.sh("down", check=False)
        shutil.rmtree(self.run_dir, ignore_errors=True)

    def sh(self, cmd, check=True):
        r = subprocess.run(["sh", SCRIPT, cmd], env=self.env, capture_output=True, text=True, timeout=120)
        if check and r.returncode != 0:
            self.fail("cluster.sh %s failed (%d):\n%s\n%s" % (cmd, r.returncode, r.stdout, r.stderr))
        return r.stdout

    def pids(self):
        out = {}
        for n in os.listdir(self.run_dir):
            if n.endswith(".pid"):
                with open(os.path.join(self.run_dir, n)) as f:
                    out[n[:-4]] = int(f.read())
        return out

    def test_up_status_down(self):
        out = self.sh("up")
        with open(os.path.join(self.run_dir, "cluster.env")) as f:
            env = dict(line.strip().split("=", 1) for line in f if "=" in line)
        self.assertEqual(sorted(env), ["FORNAX_PUSH_URL", "FORNAX_QUERY_URL"])
        self.assertIn(env["FORNAX_PUSH_URL"], out)
        self.assertIn(env["FORNAX_QUERY_URL"], out)
        pids = self.pids()
        self.assertEqual(sorted(pids), ["distributor-0", "distributor-1", "etcd", "ingester-0",
                                        "ingester-1", "ingester-2", "querier-0", "querier-1"])
        self.assertTrue(all(alive(p) for p in pids.values()))

        # The URLs work: push through one, read back through the other.
        def node(url):
            f = Fornax.__new__(Fornax)
            f.http_port = urllib.parse.urlparse(url).port
            return f

        push, query = node(env["FORNAX_PUSH_URL"]), node(env["FORNAX_QUERY_URL"])
        status, _, _ = push.ingest({"name": "script-app", "format": "pprof"}, fixture("pprof", "go-cpu.pb.gz"))
        self.assertEqual(status, 200)
        fg = query.query("SelectMergeStacktraces", select_req("process_cpu:cpu:nanoseconds:cpu:nanoseconds",
                                                              '{service_name="script-app"}'))
        self.assertGreater(flamegraph_total(fg.get("flamegraph")), 0)
        ring = query.get_json("/ring")["instances"]
        self.assertEqual(sorted(i["id"] for i in ring), ["ingester-0", "ingester-1", "ingester-2"])

        status = self.sh("status")
        for name, pid in pids.items():
            self.assertRegex(status, r"%s\s+running \(pid %d\)" % (name, pid))
        self.assertEqual(status.count("ready"), 7)

        # down stops exactly what up started: a process of ours with the
        # same binary and flags is left alone.
        bystander = Fornax(["-target=querier"] + TEST_FLAGS, name="bystander").start()
        try:
            self.sh("down")
            for name, pid in pids.items():
                self.assertFalse(alive(pid), "%s (pid %d) still runs after down" % (name, pid))
            self.assertTrue(bystander.alive)
            self.assertEqual(self.pids(), {})
            self.assertNotIn("running", self.sh("status"))
        finally:
            bystander.cleanup()

        # And up again on the same run directory: the data is still there
        # (once the querier's ring view has every ingester again).
        self.sh("up")
        deadline = time.time() + 30
        while len([i for i in query.get_json("/ring")["instances"] if i["healthy"]]) < 3:
            self.assertLess(time.time(), deadline, "the querier never saw the 3 ingesters again")
            time.sleep(0.1)
        fg = query.query("SelectMergeStacktraces", select_req("process_cpu:cpu:nanoseconds:cpu:nanoseconds",
                                                              '{service_name="script-app"}'))
        self.assertGreater(flamegraph_total(fg.get("flamegraph")), 0)


if __name__ == "__main__":
    unittest.main()
