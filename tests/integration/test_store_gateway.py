"""test_store_gateway - store-gateways as real processes sharing a ring in a
real etcd and a filesystem bucket holding the real seed blocks of
tests/fuzz/corpus/block (cut from the fixtures by test_block).

Two gateways (`fornax -target=store-gateway` and `fornax-store-gateway`)
with replication factor 1 split the six blocks (tokens chosen through the
tokens file so the split is 3/3); their StoreGatewayService answers (gRPC,
spoken by curl over HTTP/2) together hold every profile. One is killed with
SIGKILL: once its heartbeat times out the other loads its blocks and answers
everything alone. It comes back, then leaves gracefully (SIGTERM): the other
takes over again. A deletion mark drops a block; a damaged local copy is
skipped by queries (logged, counted in fornax_store_gateway_corrupted_blocks_total)
and downloaded again at the next sync.

End to end (`fornax -target=all`): answers through the querier are the same
before the ingester cuts its head into blocks and after the blocks left the
ingester for the bucket, where the store-gateway serves them.
"""
import json
import os
import shutil
import signal
import struct
import subprocess
import tempfile
import time
import unittest

from fornax import BLOCKS_NOW_FLAGS, TEST_FLAGS, Etcd, Fornax, ROOT, fixture, wait_blocks_served
import pbwire

SEEDS = os.path.join(ROOT, "tests", "fuzz", "corpus", "block")
FILES = ["meta.json", "index.fxb", "symbols.fxb", "profiles.fxb"]
SVC = "storegateway.v1.StoreGatewayService"


def fnv1_32(data, h=2166136261):
    for b in data:
        h = (h * 16777619) & 0xFFFFFFFF
        h ^= b
    return h


def block_token(tenant, ulid):
    return fnv1_32(ulid.encode(), fnv1_32(tenant.encode()))


def unpack_seeds(bucket):
    """Writes every seed block as <tenant>/<ulid>/<file>; returns [(tenant, ulid)]."""
    blocks = []
    # The fixture-* seeds are the six blocks these tests are laid out for (the
    # corpus also holds seeds for other block features, e.g. spans-0).
    for name in sorted(n for n in os.listdir(SEEDS) if n.startswith("fixture-")):
        with open(os.path.join(SEEDS, name), "rb") as f:
            data = f.read()
        parts, i = [], 0
        for _ in FILES:
            n = struct.unpack("<I", data[i:i + 4])[0]
            parts.append(data[i + 4:i + 4 + n])
            i += 4 + n
        meta = json.loads(parts[0])
        d = os.path.join(bucket, meta["tenant"], meta["ulid"])
        os.makedirs(d)
        # meta.json last, as uploaders do
        for fname, body in list(zip(FILES, parts))[1:] + [(FILES[0], parts[0])]:
            with open(os.path.join(d, fname), "wb") as f:
                f.write(body)
        blocks.append((meta["tenant"], meta["ulid"]))
    return blocks


def grpc(node, method, body=b"", tenant="t1"):
    """One unary gRPC call over cleartext HTTP/2 (curl); returns the reply bytes."""
    frame = b"\x00" + struct.pack(">I", len(body)) + body
    with tempfile.NamedTemporaryFile() as req, tempfile.NamedTemporaryFile() as hdr:
        req.write(frame)
        req.flush()
        out = subprocess.run(
            ["curl", "-s", "--http2-prior-knowledge", "-H", "content-type: application/grpc",
             "-H", "te: trailers", "-H", "x-scope-orgid: " + tenant, "--data-binary",
             "@" + req.name, "-D", hdr.name, "-m", "20",
             "http://127.0.0.1:%d/%s/%s" % (node.grpc_port, SVC, method)],
            capture_output=True, check=True).stdout
        with open(hdr.name, "rb") as f:
            headers = f.read().decode()
    if "grpc-status: 0" not in headers:
        raise AssertionError("%s failed: %s" % (method, headers))
    if len(out) < 5:
        return b""
    n = struct.unpack(">I", out[1:5])[0]
    return out[5:5 + n]


def packed_varints(b):
    vals, i = [], 0
    while i < len(b):
        v, i = pbwire._varint(b, i)
        vals.append(v)
    return vals


def profile_keys(node):
    """The SelectProfileKeys answer for every profile of t1, as a set."""
    m = pbwire.decode(grpc(node, "SelectProfileKeys"))
    fps = b"".join(m.get(1, []))
    times = packed_varints(b"".join(m.get(2, [])))
    ids = b"".join(m.get(3, []))
    n = len(times)
    assert len(fps) == 8 * n and len(ids) == 16 * n, "malformed ProfileKeys"
    keys = {(fps[8 * i:8 * i + 8], times[i], ids[16 * i:16 * i + 16]) for i in range(n)}
    assert len(keys) == n, "a key repeated in one answer"
    return keys


def profile_types(node):
    m = pbwire.decode(grpc(node, "ProfileTypes"))
    return {pbwire.decode(t)[1][0].decode() for t in m.get(1, [])}


def metric(node, name):
    _, body, _ = node.request("GET", "/metrics")
    for line in body.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def eventually(cond, timeout=20, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


class StoreGatewayTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if shutil.which("etcd") is None:
            raise unittest.SkipTest("etcd is not installed (make test installs etcd-server)")
        cls.etcd_dir = tempfile.mkdtemp(prefix="fornax-etcd-")
        cls.etcd = Etcd(cls.etcd_dir).start()

    @classmethod
    def tearDownClass(cls):
        cls.etcd.stop()
        shutil.rmtree(cls.etcd_dir, ignore_errors=True)

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="fornax-sgw-")
        self.bucket = os.path.join(self.tmp, "bucket")
        self.blocks = unpack_seeds(self.bucket)
        self.nodes = []

    def tearDown(self):
        for n in self.nodes:
            n.cleanup()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def gateway(self, name, token, binary="fornax", extra=()):
        data = os.path.join(self.tmp, name)
        os.makedirs(os.path.join(data, "store-gateway"), exist_ok=True)
        with open(os.path.join(data, "store-gateway", "tokens"), "w") as f:
            f.write("%d\n" % token)
        args = ["-ring.store=etcd", "-ring.etcd.endpoints=" + self.etcd.endpoint,
                "-ring.prefix=sgw-%s" % os.path.basename(self.tmp),
                "-ring.instance-id=" + name, "-ring.heartbeat-period=200ms",
                "-ring.heartbeat-timeout=2s", "-storage.filesystem.dir=" + self.bucket,
                "-store-gateway.sync-interval=1s"] + list(extra)
        if binary == "fornax":
            args.insert(0, "-target=store-gateway")
        node = Fornax(args, binary=binary, data_dir=data)
        self.nodes.append(node)
        return node.start()

    def test_shard_takeover_and_damage(self):
        toks = sorted(block_token(t, u) for t, u in self.blocks)
        self.assertEqual(len(toks), 6)
        # With one token each, a owns (toks[5], toks[2]] and b (toks[2], toks[5]].
        a = self.gateway("sg-a", toks[2])
        b = self.gateway("sg-b", toks[5], binary="fornax-store-gateway")
        eventually(lambda: metric(a, "fornax_store_gateway_blocks_loaded") == 3 and
                   metric(b, "fornax_store_gateway_blocks_loaded") == 3, what="a 3/3 split")
        # The seed blocks share profile keys (same labels, times and ids), so
        # keys tell the gateways' answers apart only together with the types.
        keys = profile_keys(a) | profile_keys(b)
        ta, tb = profile_types(a), profile_types(b)
        self.assertTrue(keys and ta and tb)
        self.assertNotEqual(ta, tb)  # the blocks differ, so the shards do
        types = ta | tb

        _, ring, _ = a.request("GET", "/store-gateway/ring", headers={"Accept": "application/json"})
        states = {i["id"]: i["state"] for i in json.loads(ring)["instances"]}
        self.assertEqual(states, {"sg-a": "ACTIVE", "sg-b": "ACTIVE"})

        # a dies: after its heartbeat times out, b owns everything.
        a.kill9()
        t0 = time.time()
        eventually(lambda: metric(b, "fornax_store_gateway_blocks_loaded") == 6, what="takeover")
        self.assertGreater(time.time() - t0, 1.0)  # not before the ring noticed
        self.assertEqual(profile_keys(b), keys)
        self.assertEqual(profile_types(b), types)

        # a comes back (same id and tokens), then leaves gracefully.
        a.start()
        eventually(lambda: metric(a, "fornax_store_gateway_blocks_loaded") == 3 and
                   metric(b, "fornax_store_gateway_blocks_loaded") == 3, what="rejoin")
        self.assertEqual(profile_types(a), ta)
        a.stop()
        self.assertIn("left the ring", a.logs())
        eventually(lambda: metric(b, "fornax_store_gateway_blocks_loaded") == 6, what="handover")
        self.assertEqual(profile_keys(b), keys)
        self.assertEqual(profile_types(b), types)

        # A deletion mark drops a block at the next sync.
        tenant, gone = self.blocks[0]
        with open(os.path.join(self.bucket, tenant, gone, "deletion-mark.json"), "w") as f:
            f.write('{"id":"%s","deletion_time":1,"reason":"retention"}' % gone)
        eventually(lambda: metric(b, "fornax_store_gateway_blocks_loaded") == 5, what="deletion")
        after_delete = profile_keys(b)
        self.assertTrue(after_delete <= keys)

        # A damaged local copy: skipped, logged, counted, downloaded again.
        tenant, hit = self.blocks[3]
        path = os.path.join(b.data_dir, "store-gateway", "blocks", tenant, hit, "profiles.fxb")
        with open(path, "r+b") as f:
            size = os.path.getsize(path)
            f.seek(size // 2)
            c = f.read(1)
            f.seek(size // 2)
            f.write(bytes([c[0] ^ 0x40]))
        loads = metric(b, "fornax_store_gateway_block_loads_total")
        self.assertTrue(profile_keys(b) <= after_delete)
        self.assertEqual(metric(b, "fornax_store_gateway_corrupted_blocks_total"), 1)
        self.assertIn("corrupted block skipped by queries", b.logs())
        self.assertIn(hit, b.logs())
        eventually(lambda: metric(b, "fornax_store_gateway_block_loads_total") == loads + 1,
                   what="re-download")
        self.assertEqual(metric(b, "fornax_store_gateway_blocks_loaded"), 5)
        self.assertEqual(profile_keys(b), after_delete)
        self.assertEqual(metric(b, "fornax_store_gateway_corrupted_blocks_total"), 1)
        _, ready, _ = b.request("GET", "/ready")
        self.assertEqual(ready, b"ready")


class BlocksEndToEnd(unittest.TestCase):
    """Push, answer from the head; restart with block cutting on; once every
    block is uploaded, retired from the ingester and loaded by the
    store-gateway, the querier answers the same from the gateway."""

    T = 1795238400  # fixture-era seconds

    def setUp(self):
        self.data = tempfile.mkdtemp(prefix="fornax-e2e-")
        self.base = [f for f in TEST_FLAGS if not f.startswith("-ingester.max-block-duration")]

    def tearDown(self):
        shutil.rmtree(self.data, ignore_errors=True)

    def answers(self, f):
        out = {}
        rng = {"start": (self.T - 60) * 1000, "end": (self.T + 600) * 1000}
        cpu = "process_cpu:cpu:nanoseconds:cpu:nanoseconds"
        for sel in ('{service_name="e2e-app"}', '{service_name="e2e-app", pod="p1"}',
                    '{service_name="e2e-go"}'):
            out["fg " + sel] = f.query("SelectMergeStacktraces",
                                       dict(rng, profileTypeID=cpu, labelSelector=sel))
            out["ts " + sel] = f.query("SelectSeries", dict(rng, profileTypeID=cpu, labelSelector=sel,
                                                            step=20.0, groupBy=["pod"]))
        out["pods"] = f.query("LabelValues", dict(rng, name="pod"))
        out["types"] = f.query("ProfileTypes", rng)
        return out

    def test_answers_equal_before_and_after_the_cut(self):
        f = Fornax(self.base + ["-ingester.max-block-duration=0"], data_dir=self.data).start()
        try:
            for i in range(8):
                status, _, _ = f.ingest({"name": "e2e-app.cpu{pod=p%d}" % (i % 2), "sampleRate": "100",
                                         "from": str(self.T + i * 15)},
                                        b"main;work;step%d %d\nmain;idle 1\n" % (i % 3, i + 1))
                self.assertEqual(status, 200)
            status, _, _ = f.ingest({"name": "e2e-go{fixture=go}", "format": "pprof",
                                     "from": str(self.T + 30)}, fixture("pprof", "go-cpu.pb.gz"))
            self.assertEqual(status, 200)
            before = self.answers(f)
        except Exception:
            print(f.logs())
            raise
        finally:
            f.stop()
        self.assertTrue(before["fg {service_name=\"e2e-go\"}"]["flamegraph"]["total"] != "0")

        f = Fornax(self.base + BLOCKS_NOW_FLAGS, data_dir=self.data)
        f.start()
        try:
            wait_blocks_served(f, at_least=2)
            self.assertEqual(self.answers(f), before)
        except Exception:
            print(f.logs())
            raise
        finally:
            f.stop()


if __name__ == "__main__":
    unittest.main()
