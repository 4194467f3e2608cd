"""test_exemplars - Grafana's exemplar and heatmap features over individual
profiles: SelectSeries with exemplar_type INDIVIDUAL names the pushed
profiles behind each point (their exact values, the highest ones first);
profile_id_selector on SelectMergeStacktraces / SelectMergeProfile merges
exactly the named profile; SelectHeatmap counts every profile in range once,
in the bucket its value belongs to, and with query_type SPAN every (profile,
span_id) pair once, valued by the samples that carried the span. Answers must not change when the head is
cut into blocks served by the store-gateway, nor in an RF=3 cluster (each
profile on three ingesters). Malformed ids are 400 invalid_argument.
"""
import math
import random
import re
import shutil
import tempfile
import unittest

import pbwire
from fornax import (BLOCKS_NOW_FLAGS, BULK_FLAGS, TEST_FLAGS, Cluster, Fornax, HTTPError,
                    wait_blocks_served)
from test_span_profiles import build_pprof, folded

CPU = "process_cpu:cpu:nanoseconds:cpu:nanoseconds"
SERVICES = ["ex-a", "ex-b"]
T0 = 1795238400  # fixture-era seconds
START, END = (T0 - 60) * 1000, (T0 + 600) * 1000
STEP = 30  # seconds
PERIOD = 10000000
PER_POINT = 3   # QR_EXEMPLARS_PER_POINT
BUCKETS = 20    # FX_HEATMAP_BUCKETS
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
STACKS = [
    ["main", "serve", "handle", "db.Query"],
    ["main", "serve", "handle", "json.Marshal"],
    ["main", "gc", "mark"],
]
SELECTOR = '{service_name=~"ex-.*"}'
SPANS = ["00000000000000a1", "00000000000000b2", "7fffffffffffffff"]


def workload():
    """14 profiles, alternating services, 7 s apart; 1-3 samples each with
    counts spread over two orders of magnitude (log buckets get used)."""
    rnd = random.Random(20261121)
    out = []
    for i in range(14):
        samples = []
        for stack in rnd.sample(STACKS, rnd.randint(1, 3)):
            labels = {"span_id": rnd.choice(SPANS)} if rnd.random() < 0.7 else {}
            samples.append((stack, rnd.choice([1, 2, 3, 7, 20, 45, 90, 150, 400]) + i, labels))
        value = sum(c for _, c, _ in samples) * PERIOD
        spans = {}
        for _, c, labels in samples:
            if "span_id" in labels:
                spans[labels["span_id"]] = spans.get(labels["span_id"], 0) + c * PERIOD
        folded_ = {}
        for stack, c, _ in samples:
            folded_[";".join(stack)] = folded_.get(";".join(stack), 0) + c * PERIOD
        out.append({"service": SERVICES[i % 2], "ts": T0 + i * 7, "samples": samples,
                    "value": value, "folded": folded_, "spans": spans})
    return out


def push_all(node, profiles):
    for p in profiles:
        status, _, _ = node.ingest({"name": p["service"], "format": "pprof", "from": str(p["ts"])},
                                   build_pprof(p["samples"], p["ts"] * 10 ** 9))
        assert status == 200, status


def slot_of(ts_ms, step=STEP):
    """SelectSeries / heatmap slot time of a profile at ts_ms."""
    d = ts_ms - START
    k = 0 if d <= 0 else -(-d // (step * 1000))
    return START + k * step * 1000


def series_req(exemplars=True, group_by=("service_name",), step=STEP):
    req = {"profileTypeID": CPU, "labelSelector": SELECTOR, "start": START, "end": END,
           "step": step, "groupBy": list(group_by)}
    if exemplars:
        req["exemplarType"] = "EXEMPLAR_TYPE_INDIVIDUAL"
    return req


def heatmap_req(**extra):
    req = {"profileTypeID": CPU, "labelSelector": SELECTOR, "start": START, "end": END,
           "step": STEP, "groupBy": ["service_name"], "queryType": "HEATMAP_QUERY_TYPE_INDIVIDUAL",
           "exemplarType": "EXEMPLAR_TYPE_INDIVIDUAL"}
    req.update(extra)
    return req


def labels_of(x):
    return {l["name"]: l["value"] for l in x.get("labels", [])}


def stacktraces(node, ids, fmt=None):
    req = {"profileTypeID": CPU, "labelSelector": SELECTOR, "start": START, "end": END,
           "profileIdSelector": ids}
    if fmt:
        req["format"] = fmt
    return node.query("SelectMergeStacktraces", req)


def pprof_total(node, ids):
    """Sum of sample values of SelectMergeProfile's pprof (JSON)."""
    p = node.query("SelectMergeProfile", {"profileTypeID": CPU, "labelSelector": SELECTOR,
                                          "start": START, "end": END, "profileIdSelector": ids})
    return sum(int(v) for s in p.get("sample", []) for v in s.get("value", [])[-1:])


def pushed(profiles, ex):
    """The pushed profile an exemplar names (by service, time and value)."""
    svc = labels_of(ex).get("service_name")
    ts = int(ex["timestamp"])
    match = [p for p in profiles if p["service"] == svc and p["ts"] * 1000 == ts and
             p["value"] == int(ex["value"])]
    assert len(match) == 1, (ex, svc, ts)
    return match[0]


def answers(node, profiles):
    """What the test compares across stores, with profile ids replaced by the
    pushed profile they name (ids differ between pushes)."""
    ids = {}
    series = node.query("SelectSeries", series_req())["series"]
    out_series = []
    for s in series:
        pts = []
        for p in s["points"]:
            exs = []
            for e in p.get("exemplars", []):
                assert UUID.match(e["profileId"]), e
                src = pushed(profiles, e)
                ids[e["profileId"]] = src
                exs.append((int(e["timestamp"]), int(e["value"]), src["service"]))
            pts.append((int(p["timestamp"]), float(p["value"]), exs))
        out_series.append((labels_of(s), pts))
    out = {"series": out_series}
    wide = node.query("SelectSeries", series_req(group_by=(), step=300))["series"]
    out["wide"] = [(int(p["timestamp"]), float(p["value"]),
                    [(int(e["timestamp"]), int(e["value"])) for e in p.get("exemplars", [])])
                   for s in wide for p in s["points"]]
    for kind in ("INDIVIDUAL", "SPAN"):
        hm = node.query("SelectHeatmap", heatmap_req(queryType="HEATMAP_QUERY_TYPE_" + kind))
        out_hm = []
        for s in hm.get("series", []):
            slots = []
            for sl in s.get("slots", []):
                exs = []
                for e in sl.get("exemplars", []):
                    if kind == "SPAN":
                        src = pushed_span(profiles, e)
                        exs.append((int(e["timestamp"]), int(e["value"]), e["spanId"]))
                    else:
                        src = pushed(profiles, e)
                        exs.append((int(e["timestamp"]), int(e["value"])))
                    ids[e["profileId"]] = src
                slots.append((int(sl["timestamp"]), [round(float(y), 3) for y in sl["yMin"]],
                              [int(c) for c in sl["counts"]], exs))
            out_hm.append((labels_of(s), slots))
        out["heatmap" if kind == "INDIVIDUAL" else "span heatmap"] = out_hm
    return out, ids


def pushed_span(profiles, ex):
    """The pushed profile a span exemplar names (service, time, span value)."""
    svc = labels_of(ex).get("service_name")
    ts = int(ex["timestamp"])
    match = [p for p in profiles if p["service"] == svc and p["ts"] * 1000 == ts and
             p["spans"].get(ex.get("spanId")) == int(ex["value"])]
    assert len(match) == 1, (ex, svc, ts)
    return match[0]


class Exemplars(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.profiles = workload()
        cls.data = tempfile.mkdtemp(prefix="fornax-exemplars-")
        cls.base = [f for f in TEST_FLAGS if not f.startswith("-ingester.max-block-duration")]
        cls.f = Fornax(cls.base + BULK_FLAGS + ["-ingester.max-block-duration=0"],
                       data_dir=cls.data).start()
        try:
            push_all(cls.f, cls.profiles)
            cls.head, cls.head_ids = answers(cls.f, cls.profiles)
        except Exception:
            print(cls.f.logs())
            cls.f.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.f.alive:
            cls.f.stop()
        shutil.rmtree(cls.data, ignore_errors=True)

    def check_drilldown(self, node, ids):
        """Every exemplar id merges to exactly its own profile."""
        self.assertTrue(ids)
        for pid, src in ids.items():
            self.assertEqual(folded(stacktraces(node, [pid]).get("flamegraph")), src["folded"], pid)
            self.assertEqual(pprof_total(node, [pid]), src["value"], pid)
        # Several ids: the sum of those profiles.
        two = list(ids.items())[:2]
        want = {}
        for _, src in two:
            for k, v in src["folded"].items():
                want[k] = want.get(k, 0) + v
        self.assertEqual(folded(stacktraces(node, [p for p, _ in two]).get("flamegraph")), want)

    def check_series(self, series, step):
        self.assertEqual(sorted(labels_of_s["service_name"] for labels_of_s, _ in series), SERVICES)
        for labels, pts in series:
            svc = labels["service_name"]
            mine = [p for p in self.profiles if p["service"] == svc]
            by_slot = {}
            for p in mine:
                by_slot.setdefault(slot_of(p["ts"] * 1000, step), []).append(p)
            self.assertEqual([t for t, _, _ in pts], sorted(by_slot))
            for t, value, exs in pts:
                ps = by_slot[t]
                self.assertEqual(value, sum(p["value"] for p in ps))
                want = sorted(ps, key=lambda p: (-p["value"], p["ts"]))[:PER_POINT]
                self.assertEqual(exs, [(p["ts"] * 1000, p["value"], svc) for p in want])

    def test_1_series_exemplars(self):
        self.check_series(self.head["series"], STEP)
        # A step holding more than PER_POINT profiles of one series: the stores
        # list only each series' top few per step, the answer is the same.
        wide = self.f.query("SelectSeries", series_req(step=300))["series"]
        self.assertTrue(any(len(p.get("exemplars", [])) == PER_POINT and
                            sum(1 for x in self.profiles if x["service"] == labels_of(s)["service_name"]
                                and slot_of(x["ts"] * 1000, 300) == int(p["timestamp"])) > PER_POINT
                            for s in wide for p in s["points"]))
        self.check_series([(labels_of(s), [(int(p["timestamp"]), float(p["value"]),
                                            [(int(e["timestamp"]), int(e["value"]),
                                              labels_of(e)["service_name"])
                                             for e in p.get("exemplars", [])])
                                           for p in s["points"]]) for s in wide], 300)
        # Without exemplar_type: no exemplars, same points.
        plain = self.f.query("SelectSeries", series_req(exemplars=False))["series"]
        for s in plain:
            for p in s["points"]:
                self.assertNotIn("exemplars", p)
        # Without group_by: one series, exemplars over every profile of a slot.
        for step in (STEP, 300):
            one = self.f.query("SelectSeries", series_req(group_by=(), step=step))["series"]
            self.assertEqual(len(one), 1)
            for p in one[0]["points"]:
                ps = [x for x in self.profiles if slot_of(x["ts"] * 1000, step) == int(p["timestamp"])]
                want = sorted(ps, key=lambda x: (-x["value"], x["ts"]))[:PER_POINT]
                self.assertEqual([int(e["value"]) for e in p["exemplars"]],
                                 [x["value"] for x in want])

    def test_2_drilldown(self):
        self.check_drilldown(self.f, self.head_ids)
        # An id nobody has: nothing.
        self.assertEqual(stacktraces(self.f, ["00000000-0000-4000-8000-000000000000"]), {})

    def test_3_bad_ids(self):
        good = next(iter(self.head_ids))
        for bad in ("xyz", good[:-1], good + "0", good.replace("-", ""), "", "g" + good[1:]):
            with self.assertRaises(HTTPError) as cm:
                stacktraces(self.f, [good, bad])
            self.assertEqual(cm.exception.status, 400, bad)
            self.assertIn("invalid_argument", cm.exception.body)
            self.assertIn('"%s"' % bad, cm.exception.body.replace('\\"', '"'))
            with self.assertRaises(HTTPError) as cm:
                self.f.query("SelectMergeProfile", {"profileTypeID": CPU, "start": START,
                                                    "end": END, "profileIdSelector": [bad]})
            self.assertEqual(cm.exception.status, 400, bad)

    def check_heatmap(self, hm, items):
        """items: (service, ts, value, span or None) of everything counted."""
        self.assertEqual([l["service_name"] for l, _ in hm], SERVICES)
        total = 0
        for labels, slots in hm:
            mine = [{"ts": ts, "value": v, "span": sp} for svc, ts, v, sp in items
                    if svc == labels["service_name"]]
            lo, hi = min(p["value"] for p in mine), max(p["value"] for p in mine)
            edges = slots[0][1]
            self.assertEqual(len(edges), BUCKETS)
            self.assertAlmostEqual(edges[0], lo, delta=0.001)
            for i, e in enumerate(edges):  # log-spaced between lo and hi
                self.assertAlmostEqual(e, lo * (hi / lo) ** (i / BUCKETS), delta=max(1, e * 1e-9))
            want = {}
            for p in mine:
                b = max(i for i, e in enumerate(edges) if e <= p["value"] + 0.001)
                cell = want.setdefault(slot_of(p["ts"] * 1000), [[0] * BUCKETS, {}])
                cell[0][b] += 1
                best = cell[1].get(b)
                # highest value, then earliest, then (span heatmaps) the smaller span
                if best is None or (p["value"], -p["ts"]) > (best["value"], -best["ts"]) or (
                        (p["value"], p["ts"]) == (best["value"], best["ts"]) and
                        (p["span"] or "") < (best["span"] or "")):
                    cell[1][b] = p
            self.assertEqual([t for t, _, _, _ in slots], sorted(want))
            for t, ymin, counts, exs in slots:
                self.assertEqual(ymin, edges)  # shared by every slot
                self.assertEqual(counts, want[t][0], t)
                got = [(e[0], e[1]) for e in exs]
                self.assertEqual(got, [(want[t][1][b]["ts"] * 1000, want[t][1][b]["value"])
                                       for b in sorted(want[t][1])])
                for e, b in zip(exs, sorted(want[t][1])):
                    if want[t][1][b]["span"]:
                        self.assertEqual(e[2], want[t][1][b]["span"])
                total += sum(counts)
        self.assertEqual(total, len(items))

    def test_4_heatmap(self):
        self.check_heatmap(self.head["heatmap"],
                           [(p["service"], p["ts"], p["value"], None) for p in self.profiles])
        # limit keeps the series with the largest value total.
        top = self.f.query("SelectHeatmap", heatmap_req(limit=1))["series"]
        sums = {s: sum(p["value"] for p in self.profiles if p["service"] == s) for s in SERVICES}
        self.assertEqual([labels_of(s)["service_name"] for s in top], [max(sums, key=sums.get)])
        # No group_by: one series; no exemplar_type: no exemplars.
        one = self.f.query("SelectHeatmap", heatmap_req(groupBy=[], exemplarType="EXEMPLAR_TYPE_NONE"))
        self.assertEqual(len(one["series"]), 1)
        self.assertEqual(sum(int(c) for sl in one["series"][0]["slots"] for c in sl["counts"]),
                         len(self.profiles))
        self.assertFalse(any("exemplars" in sl for sl in one["series"][0]["slots"]))
        # A range holding nothing: no series.
        empty = self.f.query("SelectHeatmap", heatmap_req(start=1000, end=2000))
        self.assertEqual(empty.get("series", []), [])

    def test_4b_span_heatmap(self):
        items = [(p["service"], p["ts"], v, sp) for p in self.profiles for sp, v in p["spans"].items()]
        self.assertGreater(len(items), len(self.profiles) // 2)
        self.check_heatmap(self.head["span heatmap"], items)

    def test_5_heatmap_errors(self):
        with self.assertRaises(HTTPError) as cm:
            self.f.query("SelectSeries", dict(series_req(), exemplarType="EXEMPLAR_TYPE_SPAN"))
        self.assertEqual(cm.exception.status, 501)
        self.assertIn("EXEMPLAR_TYPE_INDIVIDUAL", cm.exception.body)
        for bad in ({"queryType": "HEATMAP_QUERY_TYPE_UNSPECIFIED"}, {"step": 0},
                    {"labelSelector": "{x"}, {"limit": -1}):
            with self.assertRaises(HTTPError) as cm:
                self.f.query("SelectHeatmap", heatmap_req(**bad))
            self.assertEqual(cm.exception.status, 400, bad)

    def test_6_blocks(self):
        """Cut into blocks, uploaded, served by the store-gateway alone: the
        same answers, the same ids."""
        self.f.stop()
        f = Fornax(self.base + BULK_FLAGS + BLOCKS_NOW_FLAGS, data_dir=self.data).start()
        try:
            wait_blocks_served(f)
            got, ids = answers(f, self.profiles)
            self.assertEqual(got, self.head)
            self.assertEqual(set(ids), set(self.head_ids))
            self.check_drilldown(f, ids)
        except Exception:
            print(f.logs())
            raise
        finally:
            f.stop()

    def test_7_rf3_cluster(self):
        """Each profile on three ingesters: the same answers as one node."""
        c = Cluster(ingesters=3, distributors=1, queriers=1)
        try:
            c.start()
            push_all(c.distributor(), self.profiles)
            got, ids = answers(c.querier(), self.profiles)
            self.assertEqual(got, self.head)
            self.check_drilldown(c.querier(), ids)
        except Exception:
            print(c.logs())
            raise
        finally:
            c.cleanup()


if __name__ == "__main__":
    unittest.main()
