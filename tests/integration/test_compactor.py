"""Compactor (issue 4): the real fornax-compactor / fornax binaries on a
filesystem bucket seeded with committed level-1 blocks
(tests/integration/data/compactor: three replicas of one hour and a block
three hours later, tenant "anonymous"; test_compactor regenerates them).

Checks what an operator sees: the bucket after the runs (one level-3 block
with the right sources and profile count, deletion marks with their reasons,
corrupted.json on a block with a flipped byte, sources deleted after the
deletion delay, a dead upload cleaned up), the metrics, /ready,
/compactor/ring, per-tenant retention from the YAML overrides, and that
`fornax` (-target=all) runs the compactor too."""
import json
import os
import re
import shutil
import time
import unittest

from fornax import ROOT, Fornax

DATA = os.path.join(ROOT, "tests", "integration", "data", "compactor")
TENANT = "anonymous"
FAST = ["-compactor.compaction-interval=1s", "-compactor.first-level-compaction-wait-period=0s"]


def fixture_blocks():
    """(ulid, meta) of the committed blocks: the three replicas, then the later block."""
    blocks = []
    for ulid in sorted(os.listdir(DATA)):
        with open(os.path.join(DATA, ulid, "meta.json")) as f:
            blocks.append((ulid, json.load(f)))
    blocks.sort(key=lambda b: (b[1]["minTime"], b[0]))
    assert len(blocks) == 4 and len({b[1]["minTime"] for b in blocks[:3]}) == 1, blocks
    return blocks


class Bucket:
    def __init__(self, data_dir):
        self.dir = os.path.join(data_dir, "bucket", TENANT)

    def seed(self):
        os.makedirs(self.dir, exist_ok=True)
        for ulid in os.listdir(DATA):
            shutil.copytree(os.path.join(DATA, ulid), os.path.join(self.dir, ulid))

    def path(self, ulid, name=""):
        return os.path.join(self.dir, ulid, name)

    def has(self, ulid, name):
        return os.path.exists(self.path(ulid, name))

    def read(self, ulid, name):
        with open(self.path(ulid, name)) as f:
            return json.load(f)

    def blocks(self):
        return sorted(os.listdir(self.dir)) if os.path.isdir(self.dir) else []

    def visible(self):
        return [b for b in self.blocks() if self.has(b, "meta.json")
                and not self.has(b, "deletion-mark.json") and not self.has(b, "corrupted.json")]

    def flip(self, ulid, name):
        with open(self.path(ulid, name), "r+b") as f:
            data = bytearray(f.read())
            data[len(data) // 2] ^= 0x5A
            f.seek(0)
            f.write(data)


def metric(f, name, labels=""):
    _, body, _ = f.request("GET", "/metrics")
    m = re.search(r"^%s%s (\S+)$" % (re.escape(name), re.escape(labels)), body.decode(), re.M)
    return float(m.group(1)) if m else None


def wait_for(cond, what, f, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        if f.proc.poll() is not None:
            raise AssertionError("process exited while waiting for %s; log:\n%s" % (what, f.logs()))
        time.sleep(0.1)
    raise AssertionError("timed out waiting for %s; log:\n%s" % (what, f.logs()))


class Compactor(unittest.TestCase):
    def test_compacts_marks_corruption_and_deletes(self):
        blocks = fixture_blocks()
        (r0, m0), (r1, _), (r2, _), (later, ml) = blocks
        f = Fornax(FAST + ["-compactor.deletion-delay=3s",
                           "-compactor.partial-block-deletion-delay=2s"],
                   binary="fornax-compactor")
        bucket = Bucket(f.data_dir)
        bucket.seed()
        bucket.flip(r1, "profiles.fxb")
        # A dead upload: sections, no meta.json.
        dead = "01" + "Z" * 24
        os.makedirs(bucket.path(dead))
        shutil.copy(os.path.join(DATA, r0, "index.fxb"), bucket.path(dead, "index.fxb"))
        try:
            f.start()
            top = lambda: [b for b in bucket.visible() if b not in (r0, r1, r2, later)]
            wait_for(lambda: len(bucket.visible()) == 1 and len(top()) == 1
                     and bucket.read(top()[0], "meta.json")["compaction"]["level"] == 3,
                     "one level-3 block", f)
            new = top()[0]
            meta = bucket.read(new, "meta.json")
            # h0's two good replicas -> level 2, then with the later block -> level 3.
            self.assertEqual(meta["compaction"]["sources"], sorted([r0, r2, later]))
            self.assertEqual(meta["stats"]["numProfiles"],
                             m0["stats"]["numProfiles"] + ml["stats"]["numProfiles"])
            self.assertEqual((meta["minTime"], meta["maxTime"]), (m0["minTime"], ml["maxTime"]))

            bad = bucket.read(r1, "corrupted.json")
            self.assertEqual(bad["id"], r1)
            self.assertEqual(bad["section"], "profiles.fxb")
            self.assertIn("checksum mismatch", bad["error"])
            self.assertFalse(bucket.has(r1, "deletion-mark.json"))
            self.assertEqual(metric(f, "fornax_compactor_corrupted_blocks_total"), 1)
            self.assertEqual(metric(f, "fornax_compactor_compactions_total"), 2)
            self.assertEqual(metric(f, "fornax_compactor_blocks_marked_for_deletion_total",
                                    '{reason="compacted"}'), 4)
            self.assertIn("corrupted block: marked and skipped", f.logs())

            # After the deletion delay the sources and the level-2 block are
            # gone; the corrupted block stays for an operator; so does the
            # new block. The dead upload is gone too.
            wait_for(lambda: bucket.blocks() == sorted([r1, new]), "deletions", f)
            self.assertTrue(bucket.has(r1, "corrupted.json"))
            # The counters move right after the objects go: wait for them
            # rather than racing the compactor's bookkeeping.
            wait_for(lambda: metric(f, "fornax_compactor_blocks_deleted_total") == 4,
                     "the deletion counter", f)
            wait_for(lambda: metric(f, "fornax_compactor_partial_blocks_deleted_total") == 1,
                     "the partial-deletion counter", f)
            self.assertGreaterEqual(metric(f, "fornax_compactor_runs_completed_total"), 2)
            self.assertEqual(metric(f, "fornax_compactor_runs_failed_total"), 0)

            status, _, _ = f.request("GET", "/ready")
            self.assertEqual(status, 200)
            _, body, _ = f.request("GET", "/compactor/ring", headers={"Accept": "application/json"})
            ring = json.loads(body)["instances"]
            self.assertEqual(len(ring), 1)
            self.assertEqual(ring[0]["state"], "ACTIVE")
            _, body, _ = f.request("GET", "/compactor/ring")
            self.assertIn(b"Compactor ring", body)
            self.assertIsNone(f.proc.poll())
        finally:
            f.cleanup()

    def test_retention_from_tenant_overrides(self):
        blocks = fixture_blocks()
        replicas, later = [b[0] for b in blocks[:3]], blocks[3][0]
        # A period ending between the replicas' hour and the later block's.
        cut_ms = blocks[0][1]["maxTime"] + 3600 * 1000
        retention_s = int(time.time() - cut_ms / 1000)
        f = Fornax(FAST + ["-compactor.deletion-delay=1h"], binary="fornax-compactor")
        cfg = os.path.join(f.data_dir, "fornax.yaml")
        with open(cfg, "w") as out:
            out.write("overrides:\n  %s:\n    compactor_blocks_retention_period: %ds\n"
                      % (TENANT, retention_s))
        f.args.append("-config.file=" + cfg)
        bucket = Bucket(f.data_dir)
        bucket.seed()
        try:
            f.start()
            wait_for(lambda: all(bucket.has(r, "deletion-mark.json") for r in replicas),
                     "retention marks", f)
            time.sleep(1.5)  # a run or two more: nothing else may happen
            for r in replicas:
                mark = bucket.read(r, "deletion-mark.json")
                self.assertEqual((mark["id"], mark["reason"]), (r, "retention"))
                self.assertTrue(bucket.has(r, "meta.json"))  # deleted only after 1h
            self.assertFalse(bucket.has(later, "deletion-mark.json"))
            self.assertEqual(bucket.visible(), [later])
            self.assertEqual(metric(f, "fornax_compactor_blocks_marked_for_deletion_total",
                                    '{reason="retention"}'), 3)
            self.assertEqual(metric(f, "fornax_compactor_compactions_total"), 0)
            self.assertEqual(metric(f, "fornax_compactor_blocks_deleted_total"), 0)
        finally:
            f.cleanup()

    def test_fornax_all_runs_the_compactor(self):
        f = Fornax(FAST + ["-validation.reject-older-than=0"])
        bucket = Bucket(f.data_dir)
        bucket.seed()
        try:
            f.start()
            wait_for(lambda: len(bucket.visible()) == 1
                     and bucket.read(bucket.visible()[0], "meta.json")["compaction"]["level"] == 3,
                     "compaction in fornax -target=all", f)
            status, _, _ = f.request("GET", "/compactor/ring")
            self.assertEqual(status, 200)
            self.assertEqual(metric(f, "fornax_compactor_compactions_total"), 2)
        finally:
            f.cleanup()
        g = Fornax(["-target=compactor"])
        try:
            g.start()
            self.assertIsNotNone(metric(g, "fornax_compactor_runs_started_total"))
        finally:
            g.cleanup()


if __name__ == "__main__":
    unittest.main()
