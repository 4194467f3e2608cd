// Offline checks of Kubernetes manifests for tests/e2e/deploy.test.mjs: schema validation
// with npm kubernetes-models (the OpenAPI schemas of Kubernetes compiled to validators),
// plus the check those validators leave out: fields the schema does not know (a misspelt
// `readinesProbe` is silently dropped by a real API server's client-side apply, so it must be
// caught here). Also helpers to build the offline Helm renderer (tests/tools/helmlite) and to
// read YAML through it.

import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { ROOT } from './fornax.mjs';

const models = new Map();

// The kubernetes-models class of an object, e.g. apps/v1 StatefulSet.
async function modelFor(apiVersion, kind) {
  const key = `${apiVersion} ${kind}`;
  if (!models.has(key)) {
    let mod;
    try {
      mod = await import(`kubernetes-models/${apiVersion}`);
    } catch {
      throw new Error(`unknown apiVersion ${apiVersion}`);
    }
    if (!mod[kind]) throw new Error(`unknown kind ${kind} in ${apiVersion}`);
    models.set(key, mod[kind]);
  }
  return models.get(key);
}

// Wraps a JSON value so that every property a validator reads is recorded in `reads`
// (object -> Set of keys). The compiled validators read exactly the properties their
// schema declares (and every key of a map such as labels), so a key never read is unknown.
function tracked(value, reads, proxies = new WeakMap()) {
  if (value === null || typeof value !== 'object') return value;
  if (proxies.has(value)) return proxies.get(value);
  const seen = new Set();
  reads.set(value, seen);
  const p = new Proxy(value, {
    get(target, key, receiver) {
      if (typeof key === 'string') seen.add(key);
      return tracked(Reflect.get(target, key, receiver), reads, proxies);
    },
  });
  proxies.set(value, p);
  return p;
}

function unknownFields(value, reads, where, out) {
  if (value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    value.forEach((v, i) => unknownFields(v, reads, `${where}[${i}]`, out));
    return;
  }
  const seen = reads.get(value) || new Set();
  for (const [k, v] of Object.entries(value)) {
    if (!seen.has(k)) out.push(`${where}.${k}: unknown field`);
    else unknownFields(v, reads, `${where}.${k}`, out);
  }
}

// Problems of one object: schema errors and unknown fields; [] when it is valid.
export async function validateObject(obj) {
  const name = `${obj?.kind}/${obj?.metadata?.name}`;
  if (!obj || typeof obj !== 'object' || !obj.apiVersion || !obj.kind) return [`${name}: no apiVersion/kind`];
  let Model;
  try {
    Model = await modelFor(obj.apiVersion, obj.kind);
  } catch (e) {
    return [`${name}: ${e.message}`];
  }
  const problems = [];
  const reads = new Map();
  try {
    Model.prototype.validate.call(tracked(obj, reads));
  } catch (e) {
    problems.push(`${name}: ${e.message}`);
  }
  const unknown = [];
  unknownFields(obj, reads, name, unknown);
  return problems.concat(unknown);
}

// Builds the offline Helm renderer (Go, GOPATH mode, Debian's sprig and yaml.v3) once
// per run; returns its path.
let helmlitePath;
export function buildHelmlite() {
  if (helmlitePath) return helmlitePath;
  const gocode = '/usr/share/gocode/src';
  for (const [dir, pkg] of [['github.com/Masterminds/sprig', 'golang-github-masterminds-sprig-dev'],
    ['gopkg.in/yaml.v3', 'golang-gopkg-yaml.v3-dev']]) {
    if (!fs.existsSync(path.join(gocode, dir))) {
      throw new Error(`${gocode}/${dir} is missing: install Debian's ${pkg} (sh mk/deps.sh test)`);
    }
  }
  const out = path.join(ROOT, 'build/deploy');
  const gopath = path.join(out, 'gopath');
  // Debian installs sprig v3 and semver v3 without the /v3 directory their import paths
  // name; GOPATH mode finds them through these links.
  for (const pkg of ['sprig', 'semver']) {
    const dir = path.join(gopath, 'src/github.com/Masterminds', pkg);
    fs.mkdirSync(dir, { recursive: true });
    const link = path.join(dir, 'v3');
    if (!fs.existsSync(link)) fs.symlinkSync(path.join(gocode, 'github.com/Masterminds', pkg), link);
  }
  const bin = path.join(out, 'helmlite');
  const r = spawnSync('go', ['build', '-o', bin, './tests/tools/helmlite'], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, GO111MODULE: 'off', GOFLAGS: '', GOPATH: `${gopath}:/usr/share/gocode` },
  });
  if (r.status !== 0) throw new Error(`go build helmlite failed: ${r.error || ''}${r.stderr}`);
  helmlitePath = bin;
  return bin;
}

// Every YAML document of the files (or of `input` when no file is given) as JSON values.
export function readYaml(files, input) {
  const out = execFileSync(buildHelmlite(), ['-json', ...files], { input, encoding: 'utf8', maxBuffer: 64 << 20 });
  return JSON.parse(out);
}

// Renders the chart; returns { status, stdout, stderr } (status 0 = rendered).
export function helmTemplate(chartDir, { values = [], name = 'fornax', namespace = 'fornax', notes = false } = {}) {
  const args = ['-name', name, '-namespace', namespace];
  for (const v of values) args.push('-f', v);
  if (notes) args.push('-notes');
  args.push(chartDir);
  return spawnSync(buildHelmlite(), args, { encoding: 'utf8', maxBuffer: 64 << 20 });
}
