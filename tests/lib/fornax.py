"""fornax - test harness: start real fornax processes on loopback, talk to them.

Processes are started with a temporary data directory and free ports and are
stopped by process id (SIGTERM, then SIGKILL). Requests use only the Python
standard library so that nothing in the harness shares code with the server.

Fornax is one process; Etcd is a real etcd server on loopback; Cluster is the
issue-3 topology (etcd, distributors, ingesters, queriers as separate
processes) built from them.
"""
import base64
import gzip
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SHARED = os.path.abspath(os.path.join(ROOT, "..", "shared"))
FIXTURES = os.path.join(SHARED, "fixtures")
BIN = os.environ.get("FORNAX_BIN", os.path.join(ROOT, "build", "bin"))


_given_ports = set()


def free_port():
    """A port nobody listens on, never the same twice in one test run (the
    kernel may hand a just-closed port out again)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _given_ports:
            _given_ports.add(port)
            return port


class HTTPError(Exception):
    def __init__(self, status, body, headers):
        super().__init__("HTTP %d: %s" % (status, body[:300]))
        self.status, self.body, self.headers = status, body, headers

    def json(self):
        return json.loads(self.body)


class Fornax:
    """One fornax process. `args` are extra flags."""

    def __init__(self, args=(), binary="fornax", data_dir=None, http_port=None, grpc_port=None,
                 env=None, name=None):
        self.binary = os.path.join(BIN, binary)
        self.name = name or binary
        self.own_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="fornax-test-")
        self.http_port = http_port or free_port()
        self.grpc_port = grpc_port or free_port()
        self.args = list(args)
        self.env = env
        self.proc = None
        self.log_path = os.path.join(self.data_dir, "fornax-%d.log" % self.http_port)

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.http_port

    def start(self, wait=True):
        cmd = [self.binary, "-server.http-listen-port=%d" % self.http_port,
               "-server.grpc-listen-port=%d" % self.grpc_port,
               "-data-dir=%s" % self.data_dir] + self.args
        os.makedirs(self.data_dir, exist_ok=True)
        self.log = open(self.log_path, "ab")
        env = dict(os.environ)
        env.update(self.env or {})
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("fornax exited with %s; log:\n%s" % (self.proc.returncode, self.logs()))
            try:
                status, _, _ = self.request("GET", "/ready")
                if status == 200:
                    return
            except (HTTPError, OSError):
                pass
            time.sleep(0.05)
        raise RuntimeError("fornax not ready after %ss; log:\n%s" % (timeout, self.logs()))

    def logs(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")[-4000:]
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "log", None):
            self.log.close()
            self.log = None

    def kill9(self):
        self.stop(signal.SIGKILL)

    @property
    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def get_json(self, path, timeout=10):
        _, data, _ = self.request("GET", path, headers={"Accept": "application/json"}, timeout=timeout)
        return json.loads(data)

    def metric(self, name):
        """Sum of every sample of one metric family on /metrics (0 if absent)."""
        _, data, _ = self.request("GET", "/metrics")
        total = 0.0
        for line in data.decode().splitlines():
            if line.startswith(name) and line[len(name)] in " {":
                total += float(line.rsplit(" ", 1)[1])
        return total

    def cleanup(self):
        self.stop()
        if self.own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()

    # --- HTTP ------------------------------------------------------------------
    def request(self, method, path, body=None, headers=None, timeout=60):
        req = urllib.request.Request(self.url + path, data=body, method=method,
                                     headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                data = r.read()
                if r.headers.get("Content-Encoding") == "gzip":
                    data = gzip.decompress(data)
                return r.status, data, r.headers
        except urllib.error.HTTPError as e:
            data = e.read()
            if e.headers.get("Content-Encoding") == "gzip":
                data = gzip.decompress(data)
            raise HTTPError(e.code, data.decode(errors="replace"), e.headers) from None

    def connect_json(self, service_method, msg, tenant=None):
        headers = {"Content-Type": "application/json", "Connect-Protocol-Version": "1"}
        if tenant:
            headers["X-Scope-OrgID"] = tenant
        _, data, _ = self.request("POST", "/" + service_method, json.dumps(msg).encode(), headers)
        return json.loads(data) if data else {}

    def connect_proto(self, service_method, body, tenant=None, gzip_request=False):
        headers = {"Content-Type": "application/proto", "Connect-Protocol-Version": "1",
                   "Accept-Encoding": "gzip"}
        if tenant:
            headers["X-Scope-OrgID"] = tenant
        if gzip_request:
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        _, data, _ = self.request("POST", "/" + service_method, body, headers)
        return data

    def query(self, rpc, msg, tenant=None):
        return self.connect_json("querier.v1.QuerierService/" + rpc, msg, tenant)

    def ingest(self, params, body, content_type="application/octet-stream", tenant=None, timeout=60):
        headers = {"Content-Type": content_type}
        if tenant:
            headers["X-Scope-OrgID"] = tenant
        return self.request("POST", "/ingest?" + urllib.parse.urlencode(params), body, headers,
                            timeout=timeout)


def wait_for(cond, timeout, what, interval=0.05):
    """Polls cond() until it returns something truthy; returns that value."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            last = cond()
        except (HTTPError, OSError) as e:
            last = e
        else:
            if last:
                return last
        time.sleep(interval)
    raise AssertionError("timed out after %ss waiting for %s (last: %r)" % (timeout, what, last))


class Etcd:
    """A real etcd server (Debian etcd-server) on free loopback ports."""

    def __init__(self, data_dir):
        self.dir = data_dir
        os.makedirs(self.dir, exist_ok=True)
        self.client_port, self.peer_port = free_port(), free_port()
        while self.peer_port == self.client_port:
            self.peer_port = free_port()
        self.proc = None
        self.log = None

    @property
    def endpoint(self):
        return "127.0.0.1:%d" % self.client_port

    @property
    def url(self):
        return "http://" + self.endpoint

    def start(self, wait=True):
        peer = "http://127.0.0.1:%d" % self.peer_port
        cmd = ["etcd", "--name", "t", "--data-dir", os.path.join(self.dir, "data"),
               "--listen-client-urls", self.url, "--advertise-client-urls", self.url,
               "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
               "--initial-cluster", "t=" + peer]
        self.log = open(os.path.join(self.dir, "etcd.log"), "ab")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        if wait:
            wait_for(self.healthy, 30, "etcd to answer /health")
        return self

    def healthy(self):
        if self.proc.poll() is not None:
            raise RuntimeError("etcd exited with %s" % self.proc.returncode)
        try:
            with urllib.request.urlopen(self.url + "/health", timeout=2) as r:
                return json.loads(r.read()).get("health") == "true"
        except (OSError, ValueError):
            return False

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.log:
            self.log.close()
            self.log = None

    def keys(self, prefix):
        """{key: decoded JSON value} under prefix, through the v3 JSON gateway."""
        end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        body = json.dumps({"key": base64.b64encode(prefix.encode()).decode(),
                           "range_end": base64.b64encode(end.encode()).decode()}).encode()
        with urllib.request.urlopen(urllib.request.Request(self.url + "/v3/kv/range", body),
                                    timeout=5) as r:
            kvs = json.loads(r.read()).get("kvs", [])
        return {base64.b64decode(kv["key"]).decode(): json.loads(base64.b64decode(kv.get("value", "")))
                for kv in kvs}


# Test-time flags: accept and query the fixtures' fixed timestamps, keep
# everything in the ingesters (tests of blocks turn cutting on themselves) and
# let queriers ask every store for every range.
TEST_FLAGS = ["-validation.reject-older-than=0", "-querier.max-query-lookback=0",
              "-querier.max-query-length=0", "-ingester.max-block-duration=0",
              "-querier.query-store-after=0"]
# Tests push faster than the default 4 MB/s per tenant; the limit has its own test.
BULK_FLAGS = ["-distributor.ingestion-rate-limit-mb=1000", "-distributor.ingestion-burst-size-mb=1000"]
# Cut the head into blocks as soon as possible, hand them to the store-gateway
# and stop serving them from the ingester (with wait_blocks_served).
BLOCKS_NOW_FLAGS = ["-ingester.max-block-duration=1m", "-ingester.block-cut-delay=1s",
                    "-ingester.local-block-retention=1s", "-store-gateway.sync-interval=1s"]


def wait_blocks_served(f, at_least=1, timeout=60):
    """Waits until f (started with BLOCKS_NOW_FLAGS) has uploaded at least
    `at_least` blocks, retired every one of them from its ingester and loaded
    every one in its store-gateway: from then on answers come from blocks."""
    def moved():
        up = f.metric("fornax_ingester_blocks_uploaded_total") or 0
        return (up >= at_least and
                (f.metric("fornax_ingester_local_blocks_retired_total") or 0) == up and
                (f.metric("fornax_store_gateway_blocks_loaded") or 0) == up)
    wait_for(moved, timeout, "blocks uploaded, retired and loaded", interval=0.25)


class Cluster:
    """etcd + distributors + ingesters + queriers, each its own fornax process,
    with fast heartbeats so failures show within seconds. Nodes are named
    like deploy/local/cluster.sh names them (ingester-0, distributor-1, ...)
    and that name is their ring instance id."""

    def __init__(self, ingesters=3, distributors=2, queriers=2, flags=(), config_yaml=None,
                 heartbeat_period="250ms", heartbeat_timeout="3s"):
        self.dir = tempfile.mkdtemp(prefix="fornax-cluster-")
        self.etcd = Etcd(os.path.join(self.dir, "etcd"))
        self.flags = TEST_FLAGS + BULK_FLAGS + ["-ring.heartbeat-period=" + heartbeat_period,
                                   "-ring.heartbeat-timeout=" + heartbeat_timeout] + list(flags)
        if config_yaml is not None:
            path = os.path.join(self.dir, "fornax.yaml")
            with open(path, "w") as f:
                f.write(config_yaml)
            self.flags.append("-config.file=" + path)
        self.counts = {"ingester": ingesters, "distributor": distributors, "querier": queriers}
        self.nodes = {}
        self._rr = itertools.count()

    # --- processes --------------------------------------------------------------
    def _node(self, name, target, extra=()):
        data = os.path.join(self.dir, name)
        os.makedirs(data, exist_ok=True)
        args = ["-target=" + target, "-ring.store=etcd", "-ring.etcd.endpoints=" + self.etcd.endpoint,
                "-ring.instance-id=" + name, "-ring.instance-addr=127.0.0.1"] + self.flags + list(extra)
        f = Fornax(args, data_dir=data, name=name)
        f.own_dir = False
        f.target = target
        self.nodes[name] = f
        return f

    def start(self):
        try:
            self.etcd.start()
            started = []
            for role in ("ingester", "distributor", "querier"):
                for i in range(self.counts[role]):
                    started.append(self._node("%s-%d" % (role, i), role).start(wait=False))
            for f in started:
                f.wait_ready()
        except BaseException:
            self.cleanup()
            raise
        return self

    def add_ingester(self, wait=True, extra=()):
        i = sum(1 for n in self.nodes if n.startswith("ingester-"))
        return self._node("ingester-%d" % i, "ingester", extra).start(wait=wait)

    def restart(self, name, wait=True):
        """Starts a stopped node again on the same data directory and ports."""
        old = self.nodes[name]
        if old.alive:
            raise RuntimeError("%s is still running" % name)
        f = Fornax(old.args, data_dir=old.data_dir, http_port=old.http_port,
                   grpc_port=old.grpc_port, name=name)
        f.own_dir = False
        f.target = old.target
        self.nodes[name] = f
        return f.start(wait=wait)

    def role(self, role, alive=True):
        return [f for n, f in sorted(self.nodes.items())
                if f.target == role and (f.alive or not alive)]

    @property
    def ingesters(self):
        return self.role("ingester")

    @property
    def distributors(self):
        return self.role("distributor")

    @property
    def queriers(self):
        return self.role("querier")

    def distributor(self):
        """The next distributor, round robin (as a load balancer would)."""
        d = self.distributors
        return d[next(self._rr) % len(d)]

    def querier(self):
        q = self.queriers
        return q[next(self._rr) % len(q)]

    def logs(self):
        out = []
        for name, f in sorted(self.nodes.items()):
            out.append("--- %s (%s) ---\n%s" % (name, "running" if f.alive else "stopped",
                                                 f.logs()[-1500:]))
        return "\n".join(out)

    def cleanup(self):
        # Front ends first, ingesters next, etcd last, like cluster.sh down.
        order = {"querier": 0, "distributor": 1, "ingester": 2}
        for f in sorted(self.nodes.values(), key=lambda f: order.get(f.target, 0)):
            f.stop(signal.SIGKILL)
        self.etcd.stop()
        if not os.environ.get("FORNAX_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)

    # --- ring -------------------------------------------------------------------
    def ring(self, path="/ring", via=None):
        """{instance id: instance} from a node's ring page (JSON)."""
        node = via or self.queriers[0]
        return {i["id"]: i for i in node.get_json(path)["instances"]}

    def wait_ring(self, cond, timeout=20, what="the ring", path="/ring", via=None):
        return wait_for(lambda: cond(self.ring(path, via)), timeout, what)

    def wait_active(self, names, timeout=20):
        """Every node in names is ACTIVE and healthy in every node's view of the ring."""
        def ok():
            for f in self.role("querier") + self.role("distributor"):
                ring = self.ring(via=f)
                for n in names:
                    if n not in ring or ring[n]["state"] != "ACTIVE" or not ring[n]["healthy"]:
                        return False
            return True
        wait_for(ok, timeout, "%s ACTIVE in every ring view" % ", ".join(names))


def fixture(*parts):
    with open(os.path.join(FIXTURES, *parts), "rb") as f:
        return f.read()


def fixture_json(*parts):
    return json.loads(fixture(*parts))


def go_pprof_totals(path_or_bytes):
    """Per sample type totals as `go tool pprof -raw` computes them."""
    path = path_or_bytes
    tmp = None
    if isinstance(path_or_bytes, (bytes, bytearray)):
        tmp = tempfile.NamedTemporaryFile(suffix=".pb.gz", delete=False)
        tmp.write(path_or_bytes)
        tmp.close()
        path = tmp.name
    try:
        out = subprocess.run(["go", "tool", "pprof", "-raw", "-symbolize=none", path],
                             capture_output=True, check=True, text=True).stdout
    finally:
        if tmp:
            os.unlink(tmp.name)
    lines = out.splitlines()
    i = lines.index("Samples:")
    types = [t.split("/")[0] for t in lines[i + 1].split()]
    totals = [0] * len(types)
    for line in lines[i + 2:]:
        if ":" not in line or not line.strip() or not line.strip()[0].isdigit():
            if line and not line.startswith(" "):
                break
            continue
        head = line.split(":")[0].split()
        if len(head) != len(types):
            continue
        for k, v in enumerate(head):
            totals[k] += int(v)
    return dict(zip(types, totals))


def flamegraph_total(fg):
    return int(fg.get("total", 0)) if fg else 0
