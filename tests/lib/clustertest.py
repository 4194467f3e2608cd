"""clustertest - unittest base for the cluster tests: a fresh cluster (real
etcd, separate fornax processes) and a single-node RF=1 reference per test,
and the comparison every test ends with: the cluster's answers equal the
reference's answers on the same acknowledged pushes."""
import os
import sys
import unittest

from fornax import BULK_FLAGS, TEST_FLAGS, Cluster, Fornax
from workload import answers, describe_diff, push_all


class ClusterTestCase(unittest.TestCase):
    cluster_args = {}     # Cluster(...) arguments
    reference_flags = []  # extra flags of the RF=1 reference

    def setUp(self):
        self.c = Cluster(**self.cluster_args).start()
        self.ref = None
        try:
            self.ref = Fornax(TEST_FLAGS + BULK_FLAGS + self.reference_flags, name="reference").start()
        except BaseException:
            self.c.cleanup()
            raise

    def tearDown(self):
        outcome = getattr(self, "_outcome", None)
        if outcome is not None and not getattr(outcome, "success", True) or os.environ.get("FORNAX_VERBOSE"):
            sys.stderr.write("\n=== cluster logs (%s) ===\n%s\n" % (self.id(), self.c.logs()))
        self.c.cleanup()
        if self.ref:
            self.ref.cleanup()

    def to_reference(self, pushes, tenant=None):
        """Replays pushes against the RF=1 reference; all must succeed."""
        bad = [(p.what, s) for p, s in push_all(pushes, [self.ref], tenant) if s != 200]
        self.assertEqual(bad, [], "the RF=1 reference refused pushes")

    def assert_same_answers(self, selector="{}", tenant=None, queriers=None, why=""):
        """Every query answer of every querier equals the reference's."""
        want = answers(self.ref, tenant, selector)
        self.assertTrue(want.get("Series"), "nothing to compare: the reference holds no series")
        for q in queriers or self.c.queriers:
            got = answers(q, tenant, selector)
            if got != want:
                self.fail("%s: %s answers differ from RF=1 %s\n%s" % (
                    why, q.name, selector, describe_diff(got, want)))
        return want
