"""s3server - a real S3-compatible server that verifies SigV4 signatures, for
tests: npm @20minutes/s3rver, installed by `npm ci` from
tests/e2e/package-lock.json into the git-ignored tests/e2e/node_modules (as
tests/unit/test_objstore_s3.c and tests/e2e/run.sh do), run with node on a
free loopback port and stopped by pid.

One s3rver bug is patched at start, in the server process only: with a
delimiter it reports a common prefix only for "directories" that hold an
object one level down (docs/objstore.md, quirks), so a tenant prefix
(`<tenant>/<ULID>/meta.json`, two levels) is never listed and tenant
discovery finds nothing. S3 reports every prefix; the patch lists without
the delimiter and folds the keys itself. Signatures, objects and every other
request are s3rver's own.

The bucket can be listed from Python with signed requests (`keys()`), so a
test reads the bucket exactly as a client sees it.
"""
import datetime
import hashlib
import hmac
import os
import shutil
import signal
import subprocess
import tempfile
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

from fornax import ROOT, free_port, wait_for

E2E = os.path.join(ROOT, "tests", "e2e")
MODULE = os.path.join(E2E, "node_modules", "@20minutes", "s3rver")
ACCESS_KEY = SECRET_KEY = "S3RVER"  # s3rver's built-in account
REGION = "us-east-1"

# argv: module, port, directory, bucket, parent pid (the server exits when
# that process is gone, so a crashed test leaves no server behind).
SERVER_JS = r"""
const [mod, port, dir, bucket, parent] = process.argv.slice(1);
const S3rver = require(mod);
const Store = require(require('path').join(mod, 'lib/stores/filesystem.js'));
const list = Store.prototype.listObjects;
Store.prototype.listObjects = async function (b, options) {
  const delimiter = options.delimiter || '';
  if (!delimiter) return list.call(this, b, options);
  const all = await list.call(this, b, { ...options, delimiter: '', maxKeys: Infinity });
  const prefix = options.prefix || '';
  const max = options.maxKeys === undefined ? Infinity : options.maxKeys;
  const objects = [], prefixes = new Set();
  let isTruncated = false;
  for (const o of all.objects) {
    const i = o.key.slice(prefix.length).indexOf(delimiter);
    if (i !== -1) { prefixes.add(o.key.slice(0, prefix.length + i + 1)); continue; }
    if (objects.length < max) objects.push(o); else { isTruncated = true; break; }
  }
  return { objects, commonPrefixes: [...prefixes].sort(), isTruncated };
};
new S3rver({ address: '127.0.0.1', port: Number(port), directory: dir, silent: true,
             configureBuckets: [{ name: bucket }] }).run();
setInterval(() => { try { process.kill(Number(parent), 0); } catch (e) { process.exit(0); } }, 500);
"""


def available():
    """None if the server can run here, else why not."""
    if shutil.which("node") is None:
        return "node is not installed (make test installs it); the S3 server is npm @20minutes/s3rver"
    return None


def install():
    """npm ci from the lock file when node_modules is missing or older (same rule as test_objstore_s3)."""
    stamp = os.path.join(E2E, "node_modules", ".package-lock.json")
    lock = os.path.join(E2E, "package-lock.json")
    if (os.path.isdir(MODULE) and os.path.exists(stamp) and
            os.path.getmtime(lock) <= os.path.getmtime(stamp)):
        return
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=E2E, check=True,
                   stdout=subprocess.DEVNULL)


class S3rver:
    def __init__(self, bucket="fornax"):
        self.bucket = bucket
        self.dir = tempfile.mkdtemp(prefix="fornax-s3rver-")
        self.port = free_port()
        self.proc = None

    @property
    def endpoint(self):
        return "127.0.0.1:%d" % self.port

    def flags(self):
        """fornax's -storage.* flags for this server."""
        return ["-storage.backend=s3", "-storage.s3.endpoint=" + self.endpoint,
                "-storage.s3.bucket-name=" + self.bucket, "-storage.s3.access-key-id=" + ACCESS_KEY,
                "-storage.s3.secret-access-key=" + SECRET_KEY, "-storage.s3.region=" + REGION,
                "-storage.s3.insecure=true", "-storage.s3.force-path-style=true"]

    def start(self):
        install()
        self.log = open(os.path.join(self.dir, "s3rver.log"), "ab")
        # s3rver makes continuation tokens with DES, which OpenSSL 3 keeps in
        # its legacy provider: without it every truncated listing is a 500.
        self.proc = subprocess.Popen(
            ["node", "--openssl-legacy-provider", "-e", SERVER_JS, MODULE, str(self.port),
             os.path.join(self.dir, "data"), self.bucket, str(os.getpid())],
            stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(lambda: self._up(), 30, "s3rver on " + self.endpoint)
        return self

    def _up(self):
        if self.proc.poll() is not None:
            raise RuntimeError("s3rver exited with %s" % self.proc.returncode)
        try:
            self.keys("")
            return True
        except OSError:
            return False

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "log", None):
            self.log.close()
            self.log = None

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    # --- a signed client (SigV4, stdlib only) -------------------------------------
    def _signed(self, method, path, query):
        now = datetime.datetime.now(datetime.timezone.utc)
        amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
        host = self.endpoint
        payload = hashlib.sha256(b"").hexdigest()
        q = "&".join("%s=%s" % (urllib.parse.quote(k, safe="-_.~"), urllib.parse.quote(v, safe="-_.~"))
                     for k, v in sorted(query.items()))
        headers = {"host": host, "x-amz-content-sha256": payload, "x-amz-date": amz_date}
        signed = ";".join(sorted(headers))
        canonical = "\n".join([method, urllib.parse.quote(path, safe="/-_.~"), q] +
                              ["%s:%s" % (k, headers[k]) for k in sorted(headers)] + ["", signed, payload])
        scope = "%s/%s/s3/aws4_request" % (day, REGION)
        to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                             hashlib.sha256(canonical.encode()).hexdigest()])
        k = ("AWS4" + SECRET_KEY).encode()
        for part in (day, REGION, "s3", "aws4_request"):
            k = hmac.new(k, part.encode(), hashlib.sha256).digest()
        sig = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
        headers["Authorization"] = "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s" % (
            ACCESS_KEY, scope, signed, sig)
        del headers["host"]
        url = "http://%s%s%s" % (host, path, "?" + q if q else "")
        with urllib.request.urlopen(urllib.request.Request(url, method=method, headers=headers),
                                    timeout=10) as r:
            return r.read()

    def keys(self, prefix=""):
        """Every key under prefix (ListObjectsV2, all pages), sorted."""
        out, token = [], None
        while True:
            q = {"list-type": "2", "prefix": prefix}
            if token:
                q["continuation-token"] = token
            root = ET.fromstring(self._signed("GET", "/" + self.bucket, q))
            ns = root.tag[:root.tag.index("}") + 1] if root.tag.startswith("{") else ""
            out += [c.findtext(ns + "Key") for c in root.findall(ns + "Contents")]
            if root.findtext(ns + "IsTruncated") != "true":
                return sorted(out)
            token = root.findtext(ns + "NextContinuationToken")

    def get(self, key):
        return self._signed("GET", "/%s/%s" % (self.bucket, key), {})
