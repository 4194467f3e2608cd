"""fornax - test harness: start real fornax processes on loopback, talk to them.

Processes are started with a temporary data directory and free ports and are
stopped by process id (SIGTERM, then SIGKILL). Requests use only the Python
standard library so that nothing in the harness shares code with the server.
"""
import gzip
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


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class HTTPError(Exception):
    def __init__(self, status, body, headers):
        super().__init__("HTTP %d: %s" % (status, body[:300]))
        self.status, self.body, self.headers = status, body, headers

    def json(self):
        return json.loads(self.body)


class Fornax:
    """One fornax process. `args` are extra flags."""

    def __init__(self, args=(), binary="fornax", data_dir=None, http_port=None, grpc_port=None,
                 env=None):
        self.binary = os.path.join(BIN, binary)
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
