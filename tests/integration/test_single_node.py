"""Single-node path (issue 2): push every fixture the way it was captured,
query it back through the Connect API and the legacy endpoints, compare
totals with `go tool pprof -raw`, and check that bad input gets a clear 4xx
while the server keeps serving."""
import base64
import gzip
import json
import os
import shutil
import subprocess
import tempfile
import unittest
import urllib.parse

import pbwire
from fornax import FIXTURES, Fornax, HTTPError, fixture, fixture_json, go_pprof_totals

# Fixture timestamps are fixed (2026-11-21): accept and query them whatever
# the date the tests run on.
from fornax import TEST_FLAGS as FLAGS  # noqa: E402
START, END = 0, 4102444800000  # 1970 .. 2100 in ms

NODE_WALL_TYPES = {
    "wall:samples:count:wall:nanoseconds": "samples",
    "wall:wall:nanoseconds:wall:nanoseconds": "wall",
    "process_cpu:cpu:nanoseconds:wall:nanoseconds": "cpu",
}


def fg_total(resp):
    fg = resp.get("flamegraph")
    return int(fg["total"]) if fg else 0


class SingleNode(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.f = Fornax(FLAGS).start()

    @classmethod
    def tearDownClass(cls):
        cls.f.cleanup()

    def total(self, ptype, selector, **kw):
        req = {"profileTypeID": ptype, "labelSelector": selector, "start": START, "end": END}
        req.update(kw)
        return fg_total(self.f.query("SelectMergeStacktraces", req))

    def types_of(self, service):
        """sample type -> profile type ID of one service's series."""
        sets = self.f.query("Series", {"matchers": ['{service_name="%s"}' % service],
                                       "labelNames": ["__profile_type__"], "start": START,
                                       "end": END})["labelsSet"]
        out = {}
        for s in sets:
            ptype = s["labels"][0]["value"]
            out[ptype.split(":")[1]] = ptype
        return out

    def push_capture(self, name, body_file):
        meta = fixture_json("nodejs-sdk", name)
        headers = {k: v for k, v in meta["headers"].items()
                   if k.lower() in ("content-type", "x-scope-orgid", "authorization")}
        status, _, _ = self.f.request("POST", meta["path"] + "?" + meta["raw_query"],
                                      fixture("nodejs-sdk", body_file), headers)
        self.assertEqual(status, 200)

    # --- ingest paths -----------------------------------------------------------
    def test_nodejs_sdk_064_raw_pprof(self):
        self.push_capture("sdk-0.6.4-wall-cpu.request.json", "sdk-0.6.4-wall-cpu.body.pb.gz")
        self.push_capture("sdk-0.6.4-heap.request.json", "sdk-0.6.4-heap.body.pb.gz")
        want = go_pprof_totals(os.path.join(FIXTURES, "nodejs-sdk", "sdk-0.6.4-wall-cpu.body.pb.gz"))
        sel = '{service_name="nodejs-fixture-app"}'
        for ptype, st in NODE_WALL_TYPES.items():
            self.assertEqual(self.total(ptype, sel), want[st], ptype)
        heap = go_pprof_totals(os.path.join(FIXTURES, "nodejs-sdk", "sdk-0.6.4-heap.body.pb.gz"))
        types = self.types_of("nodejs-fixture-app")
        self.assertTrue(types["inuse_space"].startswith("memory:inuse_space:bytes:"), types)
        self.assertEqual(self.total(types["inuse_space"], sel), heap["inuse_space"])
        self.assertEqual(self.total(types["inuse_objects"], sel), heap["inuse_objects"])
        # Labels from the name parameter and the SDK's own tags became series labels.
        names = self.f.query("LabelNames", {"matchers": [sel], "start": START, "end": END})["names"]
        for n in ("service_name", "env", "region", "pyroscope_spy", "handler"):
            self.assertIn(n, names)
        # Dotted tag names are sanitised as Pyroscope does (otel.scope.name -> otel_scope_name).
        self.assertIn("otel_scope_name", names)
        handlers = self.f.query("LabelValues", {"name": "handler", "matchers": [sel],
                                                "start": START, "end": END})["names"]
        self.assertEqual(sorted(handlers), ["burnA", "burnB"])
        # Splitting by sample labels keeps totals: burnA + burnB + unlabelled = all.
        ptype = "wall:wall:nanoseconds:wall:nanoseconds"
        parts = [self.total(ptype, '{service_name="nodejs-fixture-app",handler="%s"}' % h) for h in handlers]
        rest = self.total(ptype, '{service_name="nodejs-fixture-app",handler=""}')
        self.assertEqual(sum(parts) + rest, want["wall"])

    def test_nodejs_sdk_0413_multipart(self):
        self.push_capture("sdk-0.4.13-wall.request.json", "sdk-0.4.13-wall.multipart.body")
        self.push_capture("sdk-0.4.13-heap.request.json", "sdk-0.4.13-heap.multipart.body")
        sel = '{service_name="nodejs-old-sdk-app"}'
        types = [t["ID"] for t in self.f.query("ProfileTypes", {"start": START, "end": END})["profileTypes"]]
        self.assertIn("wall:wall:nanoseconds:wall:nanoseconds", types)
        self.assertGreater(self.total("wall:wall:nanoseconds:wall:nanoseconds", sel), 0)
        self.assertGreater(self.total(self.types_of("nodejs-old-sdk-app")["inuse_space"], sel), 0)
        self.assertEqual(self.f.query("LabelValues", {"name": "version", "matchers": [sel],
                                                      "start": START, "end": END})["names"], ["0.4.13"])

    def test_multipart_sample_type_config_is_applied(self):
        # Older SDKs send a sample_type_config part next to the profile; the
        # renamed type and unit must be what is stored, not the pprof's own.
        boundary = "fornaxboundary"
        cfg = b'{"alloc_space":{"units":"bytes","display-name":"alloc_in_bytes"}}'
        body = b"".join([
            b"--%s\r\n" % boundary.encode(),
            b'Content-Disposition: form-data; name="profile"; filename="profile.pprof"\r\n',
            b"Content-Type: application/octet-stream\r\n\r\n",
            fixture("pprof", "go-heap.pb.gz"), b"\r\n",
            b"--%s\r\n" % boundary.encode(),
            b'Content-Disposition: form-data; name="sample_type_config"; filename="sample_type_config.json"\r\n',
            b"Content-Type: application/octet-stream\r\n\r\n",
            cfg, b"\r\n--%s--\r\n" % boundary.encode()])
        status, _, _ = self.f.ingest({"name": "fx-stc"}, body,
                                     content_type="multipart/form-data; boundary=" + boundary)
        self.assertEqual(status, 200)
        types = self.types_of("fx-stc")
        self.assertIn("alloc_in_bytes", types, types)
        self.assertNotIn("alloc_space", types)
        want = go_pprof_totals(os.path.join(FIXTURES, "pprof", "go-heap.pb.gz"))
        self.assertEqual(self.total(types["alloc_in_bytes"], '{service_name="fx-stc"}'), want["alloc_space"])

    def test_raw_pprof_fixtures_match_go_tool_pprof(self):
        cases = {
            "go-cpu": {"process_cpu:samples:count:cpu:nanoseconds": "samples",
                       "process_cpu:cpu:nanoseconds:cpu:nanoseconds": "cpu"},
            "go-heap": {"memory:alloc_objects:count:space:bytes": "alloc_objects",
                        "memory:alloc_space:bytes:space:bytes": "alloc_space",
                        "memory:inuse_objects:count:space:bytes": "inuse_objects",
                        "memory:inuse_space:bytes:space:bytes": "inuse_space"},
            # V8's heap profile uses inuse_space/bytes as its period type.
            "node-heap": {"memory:inuse_space:bytes:inuse_space:bytes": "inuse_space"},
            "node-cpu-wall": {"wall:wall:nanoseconds:wall:nanoseconds": "wall",
                              "process_cpu:cpu:nanoseconds:wall:nanoseconds": "cpu"},
        }
        for name, types in cases.items():
            path = os.path.join(FIXTURES, "pprof", name + ".pb.gz")
            status, _, _ = self.f.ingest({"name": "fx-%s{fixture=%s}" % (name, name), "format": "pprof",
                                          "spyName": "gospy"}, fixture("pprof", name + ".pb.gz"))
            self.assertEqual(status, 200)
            want = go_pprof_totals(path)
            for ptype, st in types.items():
                self.assertEqual(self.total(ptype, '{service_name="fx-%s"}' % name), want[st],
                                 "%s %s" % (name, ptype))

    def test_connect_push_fixture_proto_and_json(self):
        body = fixture("connect-push", "buf-curl-push.body.bin")
        self.f.connect_proto("push.v1.PusherService/Push", body)
        # The same push in proto3 JSON (the captured buf input), under another service name.
        msg = fixture_json("connect-push", "buf-curl-push.input.json")
        for lp in msg["series"][0]["labels"]:
            if lp["name"] == "service_name":
                lp["value"] = "buf-curl-json"
        self.f.connect_json("push.v1.PusherService/Push", msg)
        # And gzipped, with a gzip request body.
        self.f.connect_proto("push.v1.PusherService/Push", body.replace(b"buf-curl-test", b"buf-curl-gzip"),
                             gzip_request=True)
        want = go_pprof_totals(os.path.join(FIXTURES, "pprof", "node-cpu-wall.pb.gz"))
        for svc in ("buf-curl-test", "buf-curl-json", "buf-curl-gzip"):
            self.assertEqual(self.total("process_cpu:cpu:nanoseconds:wall:nanoseconds",
                                        '{service_name="%s"}' % svc), want["cpu"], svc)

    def test_folded_and_lines(self):
        body = fixture("folded", "perf-c-framepointer.folded")
        self.f.ingest({"name": "perf-work.cpu{host=a}", "sampleRate": "499", "spyName": "perf"}, body,
                      content_type="text/plain")
        samples = sum(int(l.rsplit(" ", 1)[1]) for l in body.decode().splitlines() if l.strip())
        total = self.total("process_cpu:cpu:nanoseconds:cpu:nanoseconds", '{service_name="perf-work"}')
        self.assertEqual(total, samples * int(1e9 / 499))
        self.f.ingest({"name": "lines-app.cpu", "format": "lines", "sampleRate": "100"},
                      b"main;a;b\nmain;a;b\nmain;c\n")
        self.assertEqual(self.total("process_cpu:cpu:nanoseconds:cpu:nanoseconds",
                                    '{service_name="lines-app"}'), 3 * 10000000)

    # --- query API --------------------------------------------------------------------
    def test_flamegraph_proto_equals_json_and_top_frame(self):
        self.f.ingest({"name": "shape.cpu", "sampleRate": "100"},
                      b"main;foo;bar 3\nmain;foo 1\nmain;baz 2\n")
        req = {"profileTypeID": "process_cpu:cpu:nanoseconds:cpu:nanoseconds",
               "labelSelector": '{service_name="shape"}', "start": START, "end": END}
        js = self.f.query("SelectMergeStacktraces", req)["flamegraph"]
        proto_req = (pbwire.field(1, req["profileTypeID"]) + pbwire.field(2, req["labelSelector"]) +
                     pbwire.field(3, START) + pbwire.field(4, END))
        pb = pbwire.decode(self.f.connect_proto("querier.v1.QuerierService/SelectMergeStacktraces", proto_req))
        fg = pbwire.flamegraph_from_proto(pb[1][0])
        self.assertEqual(fg["names"], js["names"])
        self.assertEqual(fg["levels"], [[int(v) for v in lv.get("values", [])] for lv in js["levels"]])
        self.assertEqual(fg["total"], int(js["total"]))
        # The worked example of reference §3.3, scaled by 1e9/100.
        u = 10000000
        self.assertEqual(js["names"], ["total", "main", "foo", "bar", "baz"])
        self.assertEqual([[int(v) for v in lv["values"]] for lv in js["levels"]],
                         [[0, 6 * u, 0, 0], [0, 6 * u, 0, 1], [0, 2 * u, 2 * u, 4, 0, 4 * u, u, 2],
                          [3 * u, 3 * u, 3 * u, 3]])
        # int64 values travel as JSON strings.
        self.assertIsInstance(js["total"], str)
        # max_nodes folds the smallest nodes into "other" and keeps the total.
        small = self.f.query("SelectMergeStacktraces", dict(req, maxNodes=3))["flamegraph"]
        self.assertEqual(int(small["total"]), 6 * u)
        self.assertIn("other", small["names"])

    def test_select_series_and_group_by(self):
        for i, pod in enumerate(["p1", "p2"]):
            self.f.ingest({"name": "series-app.cpu{pod=%s}" % pod, "sampleRate": "100",
                           "from": str(1795238400 + i * 10)}, b"main;work %d\n" % (i + 1))
        req = {"profileTypeID": "process_cpu:cpu:nanoseconds:cpu:nanoseconds",
               "labelSelector": '{service_name="series-app"}', "start": 1795238400000 - 1,
               "end": 1795238400000 + 60000, "step": 15.0}
        series = self.f.query("SelectSeries", req)["series"]
        self.assertEqual(len(series), 1)
        self.assertEqual(sum(p["value"] for p in series[0]["points"]), 3 * 1e7)
        grouped = self.f.query("SelectSeries", dict(req, groupBy=["pod"]))["series"]
        self.assertEqual(sorted(s["labels"][0]["value"] for s in grouped), ["p1", "p2"])
        top = self.f.query("SelectSeries", dict(req, groupBy=["pod"], limit=1))["series"]
        self.assertEqual(top[0]["labels"][0]["value"], "p2")

    def test_select_merge_profile_is_a_valid_pprof(self):
        self.f.ingest({"name": "merge-app{fixture=go}", "format": "pprof"}, fixture("pprof", "go-cpu.pb.gz"))
        proto_req = (pbwire.field(1, "process_cpu:cpu:nanoseconds:cpu:nanoseconds") +
                     pbwire.field(2, '{service_name="merge-app"}') + pbwire.field(3, START) + pbwire.field(4, END))
        body = self.f.connect_proto("querier.v1.QuerierService/SelectMergeProfile", proto_req)
        totals = go_pprof_totals(gzip.compress(body))
        want = go_pprof_totals(os.path.join(FIXTURES, "pprof", "go-cpu.pb.gz"))
        self.assertEqual(totals["cpu"], want["cpu"])

    def test_diff(self):
        self.f.ingest({"name": "diff-app.cpu{v=1}", "sampleRate": "100"}, b"main;foo 2\n")
        self.f.ingest({"name": "diff-app.cpu{v=2}", "sampleRate": "100"}, b"main;foo 1\nmain;bar 1\n")
        side = {"profileTypeID": "process_cpu:cpu:nanoseconds:cpu:nanoseconds", "start": START, "end": END}
        d = self.f.query("Diff", {"left": dict(side, labelSelector='{service_name="diff-app",v="1"}'),
                                  "right": dict(side, labelSelector='{service_name="diff-app",v="2"}')})["flamegraph"]
        u = 10000000
        self.assertEqual(d["names"], ["total", "main", "foo", "bar"])
        self.assertEqual(int(d["leftTicks"]), 2 * u)
        self.assertEqual(int(d["rightTicks"]), 2 * u)
        self.assertEqual([int(v) for v in d["levels"][2]["values"]],
                         [0, 0, 0, 0, u, u, 3, 0, 2 * u, 2 * u, 0, u, u, 2])

    def test_legacy_render_and_dot(self):
        self.f.ingest({"name": "render-app.cpu", "sampleRate": "100", "from": "1795238400"},
                      b"main;foo;bar 3\nmain;foo 1\nmain;baz 2\n")
        q = 'process_cpu:cpu:nanoseconds:cpu:nanoseconds{service_name="render-app"}'
        _, body, _ = self.f.request("GET", "/pyroscope/render?" + urllib.parse.urlencode(
            {"query": q, "from": "1795238000", "until": "1795239000"}))
        doc = json.loads(body)
        self.assertEqual(doc["version"], 1)
        self.assertEqual(doc["flamebearer"]["numTicks"], 6 * 10000000)
        self.assertEqual(doc["metadata"]["format"], "single")
        self.assertEqual(doc["metadata"]["units"], "samples")
        self.assertEqual(sum(doc["timeline"]["samples"]), 6 * 10000000)
        _, dot, _ = self.f.request("GET", "/pyroscope/render?" + urllib.parse.urlencode(
            {"query": q, "from": "1795238000", "until": "1795239000", "format": "dot", "max-nodes": "100"}))
        self.assertIn(b"digraph", dot)
        self.assertIn(b"bar", dot)
        if shutil.which("dot"):
            subprocess.run(["dot", "-Tsvg", "-o", "/dev/null"], input=dot, check=True)
        _, names, _ = self.f.request("GET", "/pyroscope/label-values?label=__name__")
        self.assertIn("process_cpu:cpu:nanoseconds:cpu:nanoseconds", json.loads(names))
        _, diff, _ = self.f.request("GET", "/pyroscope/render-diff?" + urllib.parse.urlencode(
            {"leftQuery": q, "leftFrom": "1795238000", "leftUntil": "1795239000",
             "rightQuery": q, "rightFrom": "1795238000", "rightUntil": "1795239000"}))
        self.assertEqual(json.loads(diff)["metadata"]["format"], "double")

    def test_profile_stats_series_admin(self):
        self.f.ingest({"name": "stats-app.cpu", "sampleRate": "100", "from": "1795238400"}, b"a;b 1\n")
        st = self.f.query("GetProfileStats", {})
        self.assertTrue(st["dataIngested"])
        series = self.f.query("Series", {"matchers": ['{service_name="stats-app"}'],
                                         "labelNames": ["service_name", "__profile_type__"],
                                         "start": START, "end": END})["labelsSet"]
        self.assertEqual(series, [{"labels": [
            {"name": "__profile_type__", "value": "process_cpu:cpu:nanoseconds:cpu:nanoseconds"},
            {"name": "service_name", "value": "stats-app"}]}])
        for path in ("/ready", "/metrics", "/api/v1/status/buildinfo", "/api/v1/status/config"):
            status, body, _ = self.f.request("GET", path)
            self.assertEqual(status, 200, path)
        self.assertIn(b"process_start_time_seconds", self.f.request("GET", "/metrics")[1])
        self.assertEqual(json.loads(self.f.request("GET", "/api/v1/status/buildinfo")[1])["status"], "success")
        status, ui, _ = self.f.request("GET", "/")
        self.assertIn(b"<html", ui.lower())

    # --- bad input -----------------------------------------------------------------------
    def expect_4xx(self, fn, code, needle):
        with self.assertRaises(HTTPError) as ctx:
            fn()
        e = ctx.exception
        self.assertTrue(400 <= e.status < 500, e)
        doc = e.json()
        self.assertEqual(doc["code"], code, doc)
        self.assertIn(needle, doc["message"], doc)

    def test_bad_input_gets_clear_errors(self):
        gz = fixture("pprof", "go-cpu.pb.gz")
        self.expect_4xx(lambda: self.f.ingest({"name": "bad", "format": "pprof"}, gz[: len(gz) // 2]),
                        "invalid_argument", "gzip")
        self.expect_4xx(lambda: self.f.ingest({"name": "bad", "format": "pprof"}, b"this is not a profile at all"),
                        "invalid_argument", "profile")
        many = ",".join("l%d=v" % i for i in range(40))
        self.expect_4xx(lambda: self.f.ingest({"name": "bad{%s}" % many, "format": "pprof"}, gz),
                        "invalid_argument", "max_label_names_per_series")
        bad_utf8 = (pbwire.field(1, pbwire.field(1, pbwire.field(1, "__name__") + pbwire.field(2, "process_cpu")) +
                                 pbwire.field(1, pbwire.field(1, "service_name") + pbwire.field(2, b"\xff\xfe")) +
                                 pbwire.field(2, pbwire.field(1, gz))))
        self.expect_4xx(lambda: self.f.connect_proto("push.v1.PusherService/Push", bad_utf8),
                        "invalid_argument", "UTF-8")
        sel = {"profileTypeID": "process_cpu:cpu:nanoseconds:cpu:nanoseconds", "start": START, "end": END}
        self.expect_4xx(lambda: self.f.query("SelectMergeStacktraces", dict(sel, labelSelector='{a="b"')),
                        "invalid_argument", "label selector")
        self.expect_4xx(lambda: self.f.query("SelectMergeStacktraces", dict(sel, profileTypeID="cpu")),
                        "invalid_argument", "profile type")
        self.expect_4xx(lambda: self.f.query("SelectMergeStacktraces", dict(sel, maxNodes=-1)),
                        "invalid_argument", "max_nodes")
        self.expect_4xx(lambda: self.f.query("LabelValues", {"name": ""}), "invalid_argument", "name")
        with self.assertRaises(HTTPError) as ctx:
            self.f.request("POST", "/querier.v1.QuerierService/ProfileTypes", b"{}",
                           {"Content-Type": "text/xml"})
        self.assertEqual(ctx.exception.status, 415)
        self.expect_4xx(lambda: self.f.ingest({"name": "bad.cpu", "format": "jfr"}, b"x"),
                        "invalid_argument", "not supported")
        self.assertEqual(self.f.request("GET", "/ready")[0], 200)


if __name__ == "__main__":
    unittest.main()
