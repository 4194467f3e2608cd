"""test_span_profiles - trace-to-profiles (Grafana's "profiles for this
span"): pprofs whose samples carry span_id (and the older profile_id)
labels are pushed; querier.v1.QuerierService/SelectMergeSpanProfile and
SelectMergeStacktraces' span_selector must then return exactly the samples
of the selected spans - computed here from the pushed samples - while the
ordinary flame graph stays the merge of everything. The same answers must
come back after the head was cut into blocks served by the store-gateway,
and from an RF=3 cluster (each profile on three ingesters) as from one node.
Malformed span selectors are 400 invalid_argument naming the bad entry.
"""
import base64
import gzip
import random
import shutil
import string
import tempfile
import time
import unittest

import pbwire
from fornax import (BLOCKS_NOW_FLAGS, BULK_FLAGS, TEST_FLAGS, Cluster, Fornax, HTTPError,
                    wait_blocks_served)

CPU = "process_cpu:cpu:nanoseconds:cpu:nanoseconds"
SERVICE = "span-app"
T0 = 1795238400  # fixture-era seconds
RANGE = {"start": (T0 - 60) * 1000, "end": (T0 + 600) * 1000}
SPANS = ["00000000000000a1", "00000000000000B2", "7fffffffffffffff", "ffffffffffffffff"]
UNKNOWN = "0123456789abcdef"
STACKS = [
    ["main", "serve", "handle", "db.Query"],
    ["main", "serve", "handle", "json.Marshal"],
    ["main", "serve", "handle"],
    ["main", "gc", "mark"],
    ["main", "serve", "auth", "crypto.Sign"],
]
PERIOD = 10000000


def varints(vals):
    return b"".join(pbwire.encode_varint(v) for v in vals)


def ld(num, body):
    return pbwire.encode_varint(num << 3 | 2) + pbwire.encode_varint(len(body)) + body


def build_pprof(samples, time_ns):
    """A Go-CPU-shaped pprof (samples/count, cpu/nanoseconds). samples:
    (stack root->leaf, count, {label: value})."""
    strings = ["", "samples", "count", "cpu", "nanoseconds"]

    def s(x):
        if x not in strings:
            strings.append(x)
        return strings.index(x)

    funcs, out = {}, b""
    for st in STACKS:
        for f in st:
            funcs.setdefault(f, len(funcs) + 1)
    for name, fid in funcs.items():
        out += ld(5, pbwire.field(1, fid) + pbwire.field(2, s(name)) + pbwire.field(3, s(name)) +
                  pbwire.field(4, s(name.split(".")[0] + ".go")))
        # location id = function id, one line each
        out += ld(4, pbwire.field(1, fid) + pbwire.field(3, 0x1000 + fid) +
                  ld(4, pbwire.field(1, fid) + pbwire.field(2, fid)))
    for stack, count, labels in samples:
        body = ld(1, varints(funcs[f] for f in reversed(stack)))
        body += ld(2, varints([count, count * PERIOD]))
        for k, v in labels.items():
            body += ld(3, pbwire.field(1, s(k)) + pbwire.field(2, s(v)))
        out += ld(2, body)
    head = ld(1, pbwire.field(1, s("samples")) + pbwire.field(2, s("count")))
    head += ld(1, pbwire.field(1, s("cpu")) + pbwire.field(2, s("nanoseconds")))
    period_type = ld(11, pbwire.field(1, s("cpu")) + pbwire.field(2, s("nanoseconds")))
    tail = b"".join(ld(6, x.encode()) for x in strings)  # complete: every s() is done
    tail += pbwire.field(9, time_ns) + pbwire.field(10, 10 ** 10) + period_type
    tail += pbwire.field(12, PERIOD)
    return gzip.compress(head + out + tail)


def workload():
    """6 profiles of 40 samples; each sample on a random stack with a span
    label (span_id or profile_id), a malformed one, a route label (which
    splits the push into series) or none."""
    rnd = random.Random(20261121)
    profiles = []
    for i in range(6):
        samples = []
        for _ in range(40):
            stack = rnd.choice(STACKS)
            count = rnd.randint(1, 9)
            labels = {}
            r = rnd.random()
            if r < 0.45:
                labels["span_id"] = rnd.choice(SPANS)
            elif r < 0.6:
                labels["profile_id"] = rnd.choice(SPANS)
            elif r < 0.7:
                labels["span_id"] = rnd.choice(["xyz", "00000000000000a1ff", "0x000000000000a1"])
            if rnd.random() < 0.3:
                labels["route"] = rnd.choice(["/a", "/b"])
            samples.append((stack, count, labels))
        profiles.append((T0 + i * 10, samples))
    return profiles


def expected(profiles, spans=None):
    """folded stack -> cpu of the samples with one of spans (None: all)."""
    want = {int(x, 16) for x in spans} if spans is not None else None
    out = {}
    for _, samples in profiles:
        for stack, count, labels in samples:
            if want is not None:
                v = labels.get("span_id", labels.get("profile_id", ""))
                # exactly 16 hex digits ("0x..." is not one, int() would take it)
                if not (len(v) == 16 and all(c in string.hexdigits for c in v) and
                        int(v, 16) in want):
                    continue
            k = ";".join(stack)
            out[k] = out.get(k, 0) + count * PERIOD
    return out


def folded(fg):
    """A FlameGraph (JSON) as folded stack -> self (nonzero only)."""
    if not fg:
        return {}
    names = fg["names"]
    levels = [[int(v) for v in lv.get("values", [])] for lv in fg["levels"]]
    nodes = []  # per level: (x, total, self, name, path)
    out = {}
    for li, vals in enumerate(levels):
        cur, x = [], 0
        for j in range(0, len(vals), 4):
            x += vals[j]
            total, self_, name = vals[j + 1], vals[j + 2], names[vals[j + 3]]
            path = []
            if li > 0:
                parent = next(p for p in nodes[li - 1] if p[0] <= x < p[0] + max(p[1], 1))
                path = parent[4] + [name]
            cur.append((x, total, self_, name, path))
            if self_ and li > 0:
                k = ";".join(path)
                out[k] = out.get(k, 0) + self_
            x += total
        nodes.append(cur)
    return out


def push_all(node, profiles):
    for ts, samples in profiles:
        status, _, _ = node.ingest({"name": SERVICE, "format": "pprof", "from": str(ts)},
                                   build_pprof(samples, ts * 10 ** 9))
        assert status == 200, status


def span_profile(node, spans, fmt=None):
    req = dict(RANGE, profile_typeID=CPU, labelSelector='{service_name="%s"}' % SERVICE,
               spanSelector=spans)
    if fmt:
        req["format"] = fmt
    return node.query("SelectMergeSpanProfile", req)


def stacktraces(node, spans=None, fmt=None):
    req = dict(RANGE, profileTypeID=CPU, labelSelector='{service_name="%s"}' % SERVICE)
    if spans is not None:
        req["spanSelector"] = spans
    if fmt:
        req["format"] = fmt
    return node.query("SelectMergeStacktraces", req)


def answers(node):
    """Everything the test compares across stores."""
    out = {"all": folded(stacktraces(node).get("flamegraph"))}
    for name, spans in [("one", SPANS[:1]), ("one-upper", [SPANS[1]]), ("several", SPANS[:3]),
                        ("every", SPANS), ("unknown", [UNKNOWN])]:
        out["span " + name] = folded(span_profile(node, spans).get("flamegraph"))
        out["stacktraces " + name] = folded(stacktraces(node, spans).get("flamegraph"))
        out["tree " + name] = span_profile(node, spans, "PROFILE_FORMAT_TREE").get("tree", "")
    return out


class SpanProfiles(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.profiles = workload()
        cls.data = tempfile.mkdtemp(prefix="fornax-spans-")
        cls.base = [f for f in TEST_FLAGS if not f.startswith("-ingester.max-block-duration")]
        cls.f = Fornax(cls.base + BULK_FLAGS + ["-ingester.max-block-duration=0"],
                       data_dir=cls.data).start()
        try:
            push_all(cls.f, cls.profiles)
            cls.head = answers(cls.f)
        except Exception:
            print(cls.f.logs())
            cls.f.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.f.alive:
            cls.f.stop()
        shutil.rmtree(cls.data, ignore_errors=True)

    def test_1_head_answers(self):
        a = self.head
        self.assertEqual(a["all"], expected(self.profiles))
        self.assertEqual(a["span one"], expected(self.profiles, SPANS[:1]))
        self.assertTrue(a["span one"])
        self.assertEqual(a["span one-upper"], expected(self.profiles, [SPANS[1]]))
        self.assertEqual(a["span several"], expected(self.profiles, SPANS[:3]))
        self.assertEqual(a["span every"], expected(self.profiles, SPANS))
        self.assertEqual(a["span unknown"], {})
        self.assertEqual(a["tree unknown"], "")
        self.assertNotEqual(a["tree one"], "")
        # Spans sum: the several-span profile is the sum of the single ones.
        total = {}
        for sp in SPANS[:3]:
            for k, v in expected(self.profiles, [sp]).items():
                total[k] = total.get(k, 0) + v
        self.assertEqual(a["span several"], total)
        # span_selector on SelectMergeStacktraces means the same.
        for name in ("one", "several", "every", "unknown"):
            self.assertEqual(a["stacktraces " + name], a["span " + name], name)
        # The malformed and unlabelled samples are in the ordinary flame graph only.
        self.assertGreater(sum(a["all"].values()), sum(a["span every"].values()))
        # tree bytes decode to the same totals as the flame graph
        self.assertGreater(len(base64.b64decode(a["tree several"])), 0)

    def test_2_bad_selectors(self):
        for bad in ("xyz", "00000000000000a1ff", "0x000000000000a1", ""):
            with self.assertRaises(HTTPError) as cm:
                span_profile(self.f, [SPANS[0], bad])
            self.assertEqual(cm.exception.status, 400, bad)
            self.assertIn("invalid_argument", cm.exception.body)
            self.assertIn('"%s"' % bad if bad else "span", cm.exception.body.replace('\\"', '"'))
            with self.assertRaises(HTTPError) as cm:
                stacktraces(self.f, [bad])
            self.assertEqual(cm.exception.status, 400, bad)
        with self.assertRaises(HTTPError) as cm:
            span_profile(self.f, [])
        self.assertEqual(cm.exception.status, 400)
        self.assertIn("span_selector", cm.exception.body)

    def test_3_blocks(self):
        """Cut into blocks, uploaded, served by the store-gateway alone."""
        self.f.stop()
        f = Fornax(self.base + BULK_FLAGS + BLOCKS_NOW_FLAGS, data_dir=self.data).start()
        try:
            wait_blocks_served(f)
            self.assertEqual(answers(f), self.head)
        except Exception:
            print(f.logs())
            raise
        finally:
            f.stop()

    def test_4_rf3_cluster(self):
        """Each profile on three ingesters: the same answers as one node."""
        c = Cluster(ingesters=3, distributors=1, queriers=1)
        try:
            c.start()
            push_all(c.distributor(), self.profiles)
            self.assertEqual(answers(c.querier()), self.head)
        except Exception:
            print(c.logs())
            raise
        finally:
            c.cleanup()


if __name__ == "__main__":
    unittest.main()
