// The Kubernetes deployment, checked offline (no cluster, no helm, no docker here;
// docs/kubernetes.md says what that leaves unverified):
// - every object of deploy/k8s and of the Helm chart rendered with several value sets
//   passes the Kubernetes schemas (npm kubernetes-models) with no unknown field;
// - the objects fit together: selectors match pods, ports and volumes exist, $(VAR)s are
//   defined, StatefulSets have their headless Services, etcd endpoints name real members;
// - every fornax container's flags and the shared fornax.yaml are accepted by the real
//   binary (`fornax <the container's args> -help` parses both and exits 0), its -target is
//   a module of the binary, stateful targets keep /data on a PersistentVolume, and the pod
//   outlives the graceful shutdown timeout;
// - the chart with default values renders deploy/k8s object for object;
// - the Dockerfile's runtime packages ship every library build/bin/fornax links;
// - the pods of deploy/k8s, run as processes with their own args, env and fornax.yaml
//   (each on its own loopback address, as pods have their own IPs), form a working
//   cluster: every one gets ready, a push through a distributor is answered by a querier.
// A negative test breaks manifests on purpose to show each check can fail.

import { after, describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { ROOT, fornaxPath, freePort } from './lib/fornax.mjs';
import { buildHelmlite, helmTemplate, readYaml, validateObject } from './lib/k8s.mjs';

const K8S = path.join(ROOT, 'deploy/k8s');
const CHART = path.join(ROOT, 'helm/fornax');
const DOCKERFILE = path.join(ROOT, 'deploy/docker/Dockerfile');
const FORNAX = fornaxPath();
const STATEFUL = new Set(['ingester', 'store-gateway']); // data that must survive a restart
const BUCKET = new Set(['ingester', 'store-gateway', 'compactor']); // open the bucket
let tmp;
let flags; // every flag of `fornax -help`
let modules; // every -target module of the binary

const clone = (v) => structuredClone(v);
const key = (o) => `${o.kind}/${o.metadata?.name}`;
const isWorkload = (o) => o.kind === 'Deployment' || o.kind === 'StatefulSet';
const matches = (selector, labels) =>
  Object.entries(selector || {}).length > 0 && Object.entries(selector).every(([k, v]) => labels?.[k] === v);

function durationSeconds(s) {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(String(s));
  if (!m) throw new Error(`cannot read duration ${s}`);
  return Number(m[1]) * { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 }[m[2]];
}

const fornaxContainers = (w) => w.spec.template.spec.containers.filter((c) => /fornax/.test(c.image) && !/etcd/.test(c.image));
const argValue = (c, flag) => (c.args || []).find((a) => a.startsWith(`${flag}=`))?.slice(flag.length + 1);

// The fornax.yaml a container reads: -config.file's path -> mount -> ConfigMap key.
function configOf(objs, w, c) {
  const file = argValue(c, '-config.file');
  if (!file) return { problem: 'no -config.file' };
  const mount = (c.volumeMounts || []).find((m) => file.startsWith(`${m.mountPath}/`));
  const vol = mount && (w.spec.template.spec.volumes || []).find((v) => v.name === mount.name);
  const cm = vol?.configMap && objs.find((o) => o.kind === 'ConfigMap' && o.metadata.name === vol.configMap.name);
  const text = cm?.data?.[path.relative(mount?.mountPath || '', file)];
  if (text === undefined) return { problem: `-config.file=${file} is not a key of a mounted ConfigMap` };
  try {
    return { text, config: readYaml([], text)[0] || {} };
  } catch (e) {
    return { problem: `fornax.yaml is not YAML: ${e.stderr || e.message}` };
  }
}

// `fornax <args> -help` with the container's environment substituted: parses every flag
// and the YAML file exactly as the process will, without starting anything.
function fornaxAccepts(c, configText) {
  const cfg = path.join(tmp, `fornax-${process.hrtime.bigint()}.yaml`);
  fs.writeFileSync(cfg, configText);
  const env = Object.fromEntries((c.env || []).map((e) => [e.name, e.value ?? (e.valueFrom?.fieldRef?.fieldPath === 'status.podIP' ? '10.1.2.3' : 'pod-0')]));
  const args = (c.args || []).map((a) => (a.startsWith('-config.file=') ? `-config.file=${cfg}` : a.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (_, v) => env[v] ?? '')));
  const r = spawnSync(FORNAX, [...args, '-help'], { encoding: 'utf8' });
  return r.status === 0 ? null : (r.stderr || `exit ${r.status}`).trim();
}

// Every problem of a set of objects that belong together; [] when there is none.
async function problemsOf(objs) {
  const p = [];
  const seen = new Set();
  for (const o of objs) {
    p.push(...(await validateObject(o)));
    if (seen.has(key(o))) p.push(`${key(o)}: defined twice`);
    seen.add(key(o));
  }
  const workloads = objs.filter(isWorkload);
  const services = objs.filter((o) => o.kind === 'Service');
  const podsOf = (selector) => workloads.filter((w) => matches(selector, w.spec.template.metadata?.labels));

  for (const w of workloads) {
    const pod = w.spec.template.spec;
    const where = key(w);
    if (!matches(w.spec.selector?.matchLabels, w.spec.template.metadata?.labels)) p.push(`${where}: selector does not match its pod labels`);
    if (w.kind === 'StatefulSet') {
      const svc = services.find((s) => s.metadata.name === w.spec.serviceName);
      if (!svc || svc.spec.clusterIP !== 'None') p.push(`${where}: serviceName ${w.spec.serviceName} is not a headless Service of the set`);
    }
    const volumes = new Set([...(pod.volumes || []).map((v) => v.name), ...(w.spec.volumeClaimTemplates || []).map((v) => v.metadata.name)]);
    for (const v of pod.volumes || []) {
      if (v.configMap && !objs.some((o) => o.kind === 'ConfigMap' && o.metadata.name === v.configMap.name)) p.push(`${where}: volume ${v.name} names a missing ConfigMap ${v.configMap.name}`);
    }
    for (const c of pod.containers) {
      for (const m of c.volumeMounts || []) if (!volumes.has(m.name)) p.push(`${where}/${c.name}: mounts unknown volume ${m.name}`);
      const envNames = new Set((c.env || []).map((e) => e.name));
      for (const a of [...(c.command || []), ...(c.args || [])]) {
        for (const [, v] of a.matchAll(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g)) if (!envNames.has(v)) p.push(`${where}/${c.name}: $(${v}) in "${a}" is not in its env (Kubernetes would pass it literally)`);
      }
      for (const e of c.env || []) {
        const f = e.valueFrom?.fieldRef?.fieldPath;
        if (e.name === 'POD_NAME' && f !== 'metadata.name') p.push(`${where}/${c.name}: POD_NAME is not metadata.name`);
        if (e.name === 'POD_IP' && f !== 'status.podIP') p.push(`${where}/${c.name}: POD_IP is not status.podIP`);
      }
    }
    if (/fornax/.test(pod.containers.map((c) => c.image).join()) && fornaxContainers(w).length === 0) p.push(`${where}: no fornax container`);
    for (const c of fornaxContainers(w)) p.push(...fornaxProblems(objs, w, c).map((s) => `${where}/${c.name}: ${s}`));
    for (const c of pod.containers.filter((x) => x.name === 'etcd')) p.push(...etcdProblems(w, c).map((s) => `${where}/${c.name}: ${s}`));
  }
  for (const s of services) {
    const pods = podsOf(s.spec.selector);
    if (pods.length !== 1) {
      p.push(`${key(s)}: selector matches ${pods.length} workloads`);
      continue;
    }
    const ports = pods[0].spec.template.spec.containers.flatMap((c) => c.ports || []);
    for (const sp of s.spec.ports) {
      const t = sp.targetPort ?? sp.port;
      if (!ports.some((cp) => (typeof t === 'string' ? cp.name === t : cp.containerPort === t))) p.push(`${key(s)}: targetPort ${t} is not a port of ${key(pods[0])}`);
    }
  }
  for (const b of objs.filter((o) => o.kind === 'PodDisruptionBudget')) {
    if (podsOf(b.spec.selector?.matchLabels).length !== 1) p.push(`${key(b)}: selector does not match exactly one workload`);
  }
  return p;
}

function fornaxProblems(objs, w, c) {
  const p = [];
  const target = argValue(c, '-target');
  if (!target) return ['no -target'];
  for (const t of target.split(',')) if (!modules.has(t)) p.push(`-target=${t} is not a module of the binary (${[...modules].join(', ')})`);
  for (const a of c.args || []) {
    const m = /^--?([^=\s]+)/.exec(a);
    if (!m) p.push(`argument "${a}" is not a flag`);
    else if (!flags.has(m[1])) p.push(`-${m[1]} is not a flag of fornax (fornax -help)`);
  }
  const { problem, text, config } = configOf(objs, w, c);
  if (problem) return p.concat(problem);
  const err = fornaxAccepts(c, text);
  if (err) p.push(`fornax rejects its flags or fornax.yaml: ${err}`);

  const pod = w.spec.template.spec;
  const grace = durationSeconds(config.server?.graceful_shutdown_timeout ?? '30s');
  if ((pod.terminationGracePeriodSeconds ?? 30) <= grace) p.push(`terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds ?? 30} does not outlast the ${grace}s graceful shutdown`);
  const httpPort = config.server?.http_listen_port ?? 4040;
  const probe = c.readinessProbe?.httpGet;
  const probePort = (c.ports || []).find((cp) => cp.name === probe?.port || cp.containerPort === probe?.port);
  if (probe?.path !== '/ready' || probePort?.containerPort !== httpPort) p.push(`readinessProbe is not GET /ready on the HTTP port ${httpPort}`);
  const grpcPort = config.server?.grpc_listen_port ?? 9095;
  if (!(c.ports || []).some((cp) => cp.containerPort === grpcPort)) p.push(`gRPC port ${grpcPort} is not a container port`);

  const dataDir = argValue(c, '-data-dir') ?? config.data_dir ?? './data';
  const dataMount = (c.volumeMounts || []).find((m) => m.mountPath === dataDir);
  if (!dataMount) p.push(`data directory ${dataDir} is not a mounted volume (the root filesystem may be read-only)`);
  if (STATEFUL.has(target) || target === 'compactor') {
    if (w.kind !== 'StatefulSet') p.push(`${target} must be a StatefulSet (stable ring id and volume)`);
    if (argValue(c, '-ring.instance-id') !== '$(POD_NAME)') p.push(`${target} must use the pod name as -ring.instance-id`);
  }
  if (STATEFUL.has(target) && dataMount && !(w.spec.volumeClaimTemplates || []).some((v) => v.metadata.name === dataMount.name)) p.push(`${target} keeps ${dataDir} on a volume that is not a PersistentVolumeClaim`);
  if (argValue(c, '-ring.instance-addr') !== '$(POD_IP)') p.push('-ring.instance-addr is not the pod IP');

  const storage = config.storage || {};
  if (storage.s3?.secret_access_key || storage.s3?.access_key_id) p.push('fornax.yaml holds S3 keys: they belong in a Secret');
  if (BUCKET.has(target) && storage.backend === 's3') {
    const names = new Set((c.env || []).map((e) => e.name));
    if (!names.has('AWS_ACCESS_KEY_ID') || !names.has('AWS_SECRET_ACCESS_KEY')) p.push('opens the S3 bucket but has no AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY');
    for (const e of c.env || []) if (/^AWS_/.test(e.name) && e.value !== undefined) p.push(`${e.name} is a literal value, not a Secret reference`);
  }
  if (BUCKET.has(target) && storage.backend === 'filesystem') {
    const dir = storage.filesystem?.dir;
    const m = (c.volumeMounts || []).find((vm) => vm.mountPath === dir);
    const v = m && (pod.volumes || []).find((x) => x.name === m.name);
    if (!v?.persistentVolumeClaim) p.push(`filesystem bucket ${dir} is not a shared PersistentVolumeClaim`);
  }
  if (config.ring?.store !== 'etcd') p.push('ring.store is not etcd');
  for (const ep of [].concat(config.ring?.etcd?.endpoints || [])) p.push(...etcdEndpointProblems(objs, ep));
  return p;
}

// An endpoint <sts>-<i>.<svc>:<port> must be a member of an etcd StatefulSet of the set;
// other endpoints are external and taken as given.
function etcdEndpointProblems(objs, ep) {
  const m = /^(?:https?:\/\/)?([a-z0-9-]+)-(\d+)\.([a-z0-9-]+):(\d+)$/.exec(ep);
  const sts = m && objs.find((o) => o.kind === 'StatefulSet' && o.metadata.name === m[1]);
  if (!sts) return [];
  const p = [];
  if (Number(m[2]) >= sts.spec.replicas) p.push(`etcd endpoint ${ep}: ${m[1]} has only ${sts.spec.replicas} members`);
  const svc = objs.find((o) => o.kind === 'Service' && o.metadata.name === m[3]);
  if (sts.spec.serviceName !== m[3] || !svc?.spec.publishNotReadyAddresses) p.push(`etcd endpoint ${ep}: ${m[3]} is not the members' headless Service publishing unready pods`);
  if (!svc?.spec.ports.some((sp) => sp.port === Number(m[4]))) p.push(`etcd endpoint ${ep}: port ${m[4]} is not a port of ${m[3]}`);
  return p;
}

function etcdProblems(w, c) {
  const arg = (n) => (c.args || []).find((a) => a.startsWith(`--${n}=`))?.slice(n.length + 3);
  const members = (arg('initial-cluster') || '').split(',').filter(Boolean);
  const want = Array.from({ length: w.spec.replicas }, (_, i) => `${w.metadata.name}-${i}=http://${w.metadata.name}-${i}.${w.spec.serviceName}:2380`);
  const p = [];
  if (members.join() !== want.join()) p.push(`--initial-cluster ${members.join()} is not its ${w.spec.replicas} members ${want.join()}`);
  if (arg('initial-advertise-peer-urls') !== `http://$(POD_NAME).${w.spec.serviceName}:2380`) p.push('--initial-advertise-peer-urls does not match --initial-cluster');
  if (w.spec.podManagementPolicy !== 'Parallel') p.push('members must start in parallel to form the cluster');
  return p;
}

// Replicas per component, e.g. { etcd: 3, ingester: 3, ... }.
function topology(objs) {
  const t = {};
  for (const w of objs.filter(isWorkload)) t[w.metadata.labels['app.kubernetes.io/component']] = `${w.kind}x${w.spec.replicas}`;
  return t;
}

function plainObjects() {
  const kust = readYaml([path.join(K8S, 'kustomization.yaml')])[0];
  return { kust, objs: readYaml(kust.resources.map((r) => path.join(K8S, r))) };
}

function render(values, opts = {}) {
  const files = values.map((v, i) => {
    const f = path.join(tmp, `values-${process.hrtime.bigint()}-${i}.json`);
    fs.writeFileSync(f, JSON.stringify(v)); // JSON is YAML
    return f;
  });
  return helmTemplate(CHART, { ...opts, values: files });
}

function renderObjects(values, opts) {
  const r = render(values, opts);
  assert.equal(r.status, 0, `chart does not render: ${r.stderr}`);
  return readYaml([], r.stdout);
}

const BUCKET_VALUES = { storage: { s3: { bucketName: 'fornax-blocks' } } };

// What Helm adds that plain manifests do not carry.
function normalize(o) {
  o = clone(o);
  for (const m of [o.metadata, o.spec?.template?.metadata]) {
    if (!m) continue;
    for (const l of ['app.kubernetes.io/version', 'app.kubernetes.io/managed-by', 'helm.sh/chart']) delete m.labels?.[l];
    delete m.annotations?.['checksum/config'];
  }
  if (o.kind === 'ConfigMap') o.data = Object.fromEntries(Object.entries(o.data).map(([k, v]) => [k, readYaml([], v)[0]]));
  return o;
}

describe('Kubernetes deployment (offline)', () => {
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fornax-deploy-'));
    const help = execFileSync(FORNAX, ['-help'], { encoding: 'utf8' });
    flags = new Set([...help.matchAll(/^ {2}-([A-Za-z0-9._-]+) /gm)].map((m) => m[1]));
    assert.ok(flags.has('ring.instance-id') && flags.size > 50, 'cannot read the flags of fornax -help');
    const r = spawnSync(FORNAX, ['-target=-none-'], { encoding: 'utf8' });
    const m = /this binary runs: (.*) \(or all\)/.exec(r.stderr);
    assert.ok(m, `cannot read the modules of fornax: ${r.stderr}`);
    modules = new Set(['all', ...m[1].trim().split(/\s+/)]);
    buildHelmlite();
  });
  after(() => { if (tmp) fs.rmSync(tmp, { recursive: true, force: true }); });

  it('deploy/k8s: kustomization.yaml lists every manifest, and versions agree', () => {
    const { kust } = plainObjects();
    const files = fs.readdirSync(K8S).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml').sort();
    assert.deepEqual([...kust.resources].sort(), files);
    const version = fs.readFileSync(path.join(ROOT, 'VERSION'), 'utf8').trim();
    const chart = readYaml([path.join(CHART, 'Chart.yaml')])[0];
    assert.equal(String(chart.appVersion), version, 'Chart.yaml appVersion is not VERSION');
    assert.equal(String(kust.images.find((i) => i.name === 'fornax').newTag), version, 'kustomization image tag is not VERSION');
    for (const w of plainObjects().objs.filter(isWorkload)) {
      for (const c of fornaxContainers(w)) assert.equal(c.image, `fornax:${version}`, `${key(w)} image`);
    }
  });

  it('deploy/k8s: every object is valid and they fit together', async () => {
    const { objs } = plainObjects();
    assert.deepEqual(await problemsOf(objs), []);
    assert.deepEqual(topology(objs), {
      etcd: 'StatefulSetx3', ingester: 'StatefulSetx3', distributor: 'Deploymentx2',
      querier: 'Deploymentx2', 'store-gateway': 'StatefulSetx2', compactor: 'StatefulSetx1',
    });
    const svc = (n) => objs.find((o) => o.kind === 'Service' && o.metadata.name === n);
    assert.equal(svc('fornax-distributor').spec.type, 'ClusterIP', 'push endpoint');
    assert.equal(svc('fornax-querier').spec.type, 'ClusterIP', 'query endpoint');
  });

  it('deploy/k8s: kubectl kustomize renders it into the fornax namespace', async (t) => {
    if (spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status !== 0) {
      t.skip('no kubectl here (docs/kubernetes.md)');
      return;
    }
    const out = execFileSync('kubectl', ['kustomize', K8S], { encoding: 'utf8' });
    const objs = readYaml([], out);
    assert.equal(objs.length, plainObjects().objs.length);
    assert.deepEqual(await problemsOf(objs), []);
    for (const o of objs) assert.equal(o.metadata.namespace, 'fornax', key(o));
  });

  it('helm: the default values render deploy/k8s, object for object', () => {
    const chart = renderObjects([BUCKET_VALUES]).map(normalize);
    const plain = plainObjects().objs.map(normalize);
    assert.deepEqual(chart.map(key).sort(), plain.map(key).sort());
    for (const o of plain) assert.deepStrictEqual(chart.find((c) => key(c) === key(o)), o, `${key(o)} differs between helm/fornax and deploy/k8s`);
  });

  it('helm: other values render valid manifests that fit together', async () => {
    // External etcd, a shared filesystem bucket, another release name, extra flags,
    // limits, scheduling, a registry image.
    const a = renderObjects([{
      etcd: { enabled: false, externalEndpoints: ['etcd-a.infra:2379', 'etcd-b.infra:2379'] },
      storage: { backend: 'filesystem', filesystem: { existingClaim: 'fornax-bucket' } },
      image: { repository: 'registry.example.com/fornax', tag: '9.9.9' },
      imagePullSecrets: [{ name: 'regcred' }],
      extraArgs: ['-log.level=debug'],
      config: { multitenancy_enabled: true, limits: { ingestion_rate_mb: 16 }, overrides: { 'big-team': { ingestion_rate_mb: 64 } } },
      service: { type: 'LoadBalancer', annotations: { 'example.com/lb': 'internal' } },
      ingester: { replicas: 5, podAntiAffinity: 'hard', extraArgs: ['-ingester.block-cache-size=256MiB'], persistence: { size: '200Gi', storageClass: 'fast' }, nodeSelector: { disk: 'ssd' }, tolerations: [{ key: 'profiling', operator: 'Exists' }] },
      querier: { replicas: 4, extraArgs: ['-querier.query-timeout=1m'], podAnnotations: { team: 'obs' } },
    }], { name: 'prof', namespace: 'obs' });
    assert.deepEqual(await problemsOf(a), []);
    assert.deepEqual(topology(a), {
      ingester: 'StatefulSetx5', distributor: 'Deploymentx2', querier: 'Deploymentx4',
      'store-gateway': 'StatefulSetx2', compactor: 'StatefulSetx1',
    });
    const ing = a.find((o) => o.kind === 'StatefulSet' && o.metadata.name === 'prof-fornax-ingester');
    assert.ok(ing, 'release name prefixes the objects');
    const c = ing.spec.template.spec.containers[0];
    assert.equal(c.image, 'registry.example.com/fornax:9.9.9');
    assert.ok(c.args.includes('-log.level=debug') && c.args.includes('-ingester.block-cache-size=256MiB'), c.args.join(' '));
    const cfg = configOf(a, ing, c).config;
    assert.deepEqual(cfg.ring.etcd.endpoints, ['etcd-a.infra:2379', 'etcd-b.infra:2379']);
    assert.equal(cfg.overrides['big-team'].ingestion_rate_mb, 64);
    assert.ok(!c.env.some((e) => e.name.startsWith('AWS_')), 'no S3 keys with the filesystem backend');

    // One etcd member, an in-cluster S3 (MinIO) whose keys come from extraEnv.
    const b = renderObjects([{
      etcd: { replicas: 1 },
      storage: { s3: { endpoint: 'minio.minio.svc:9000', bucketName: 'fx', insecure: true, forcePathStyle: true, existingSecret: '' } },
      extraEnv: [
        { name: 'AWS_ACCESS_KEY_ID', valueFrom: { secretKeyRef: { name: 'minio', key: 'rootUser' } } },
        { name: 'AWS_SECRET_ACCESS_KEY', valueFrom: { secretKeyRef: { name: 'minio', key: 'rootPassword' } } },
      ],
    }]);
    assert.deepEqual(await problemsOf(b), []);
    assert.equal(topology(b).etcd, 'StatefulSetx1');
    const s3 = readYaml([], b.find((o) => o.kind === 'ConfigMap').data['fornax.yaml'])[0].storage.s3;
    assert.deepEqual(s3, { bucket_name: 'fx', endpoint: 'minio.minio.svc:9000', region: 'us-east-1', insecure: true, force_path_style: true });

    const notes = render([BUCKET_VALUES], { notes: true });
    assert.equal(notes.status, 0, notes.stderr);
    assert.match(notes.stdout, /http:\/\/fornax-distributor\.fornax\.svc:4040/);
    assert.match(notes.stdout, /http:\/\/fornax-querier\.fornax\.svc:4040/);
    assert.match(notes.stdout, /create secret generic fornax-s3/);
  });

  it('helm: bad values fail with a message naming the value', () => {
    const cases = [
      [{}, /storage\.s3\.bucketName is required/],
      [{ storage: { backend: 'gcs' } }, /storage\.backend must be s3 or filesystem/],
      [{ storage: { backend: 'filesystem' } }, /storage\.filesystem\.existingClaim .* is required/],
      [{ ...BUCKET_VALUES, etcd: { enabled: false } }, /etcd\.externalEndpoints is required/],
      [{ ...BUCKET_VALUES, ingester: { podAntiAffinity: 'always' } }, /podAntiAffinity must be soft, hard or none/],
    ];
    for (const [values, msg] of cases) {
      const r = render([values]);
      assert.notEqual(r.status, 0, `${JSON.stringify(values)} rendered`);
      assert.match(r.stderr, msg);
    }
  });

  it('the checks catch broken manifests', async () => {
    const { objs } = plainObjects();
    const find = (o, k) => o.find((x) => key(x) === k);
    const breakers = [
      [(o) => { find(o, 'StatefulSet/fornax-ingester').spec.template.spec.containers[0].args.push('-ingester.no-such-flag=1'); }, /-ingester\.no-such-flag is not a flag/],
      [(o) => { const c = find(o, 'StatefulSet/fornax-ingester').spec.template.spec.containers[0]; c.readinesProbe = c.readinessProbe; delete c.readinessProbe; }, /readinesProbe: unknown field/],
      [(o) => { find(o, 'Deployment/fornax-querier').spec.replicas = '2'; }, /replicas must be integer/],
      [(o) => { find(o, 'Service/fornax-querier').spec.selector['app.kubernetes.io/component'] = 'queriers'; }, /selector matches 0 workloads/],
      [(o) => { find(o, 'Service/fornax-distributor').spec.ports[0].targetPort = 'metrics'; }, /targetPort metrics is not a port/],
      [(o) => { const c = find(o, 'Deployment/fornax-distributor').spec.template.spec.containers[0]; c.env = c.env.filter((e) => e.name !== 'POD_IP'); }, /\$\(POD_IP\) .* is not in its env/],
      [(o) => { find(o, 'StatefulSet/fornax-compactor').spec.template.spec.containers[0].args[0] = '-target=compacter'; }, /-target=compacter is not a module/],
      [(o) => { find(o, 'ConfigMap/fornax-config').data['fornax.yaml'] += 'ring_store: etcd\n'; }, /fornax rejects its flags or fornax\.yaml: .*unknown configuration key "ring_store"/],
      [(o) => { find(o, 'ConfigMap/fornax-config').data['fornax.yaml'] += 'distributor:\n  replication_factor: 3\n'; }, /fornax\.yaml is not YAML:[\s\S]*"distributor" already defined/],
      [(o) => { find(o, 'Deployment/fornax-querier').spec.template.spec.terminationGracePeriodSeconds = 30; }, /does not outlast the 30s graceful shutdown/],
      [(o) => { const s = find(o, 'StatefulSet/fornax-ingester'); s.spec.template.spec.volumes.push({ name: 'data', emptyDir: {} }); delete s.spec.volumeClaimTemplates; }, /not a PersistentVolumeClaim/],
      [(o) => { find(o, 'StatefulSet/fornax-store-gateway').spec.template.spec.containers[0].env.splice(2, 2); }, /no AWS_ACCESS_KEY_ID/],
      [(o) => { find(o, 'StatefulSet/fornax-etcd').spec.replicas = 1; }, /fornax-etcd has only 1 members|initial-cluster/],
      [(o) => { find(o, 'StatefulSet/fornax-ingester').spec.serviceName = 'fornax-ingesters'; }, /serviceName fornax-ingesters is not a headless Service/],
    ];
    for (const [breakIt, want] of breakers) {
      const o = clone(objs);
      breakIt(o);
      const p = await problemsOf(o);
      assert.ok(p.some((s) => want.test(s)), `${want} not reported; got: ${p.join(' | ') || 'nothing'}`);
    }
  });

  it('Dockerfile: the runtime packages ship every library fornax links', (t) => {
    if (spawnSync('dpkg', ['--version']).status !== 0 || spawnSync('readelf', ['--version']).status !== 0) {
      t.skip('needs dpkg and readelf (Debian)');
      return;
    }
    const text = fs.readFileSync(DOCKERFILE, 'utf8');
    const block = /# BEGIN RUNTIME PACKAGES\n([\s\S]*?)# END RUNTIME PACKAGES/.exec(text);
    assert.ok(block, 'no runtime package block in the Dockerfile');
    const listed = new Set(block[1].split(/\s+/).filter((w) => /^[a-z0-9][a-z0-9.+-]+$/.test(w) && !['apt-get', 'update', 'install', 'rm', 'run'].includes(w)));
    const needed = [...execFileSync('readelf', ['-d', FORNAX], { encoding: 'utf8' }).matchAll(/\(NEEDED\)\s+Shared library: \[(.+)\]/g)].map((m) => m[1]);
    const paths = Object.fromEntries([...execFileSync('ldd', [FORNAX], { encoding: 'utf8' }).matchAll(/^\s*(\S+) => (\S+)/gm)].map((m) => [m[1], m[2]]));
    // dpkg knows a file by the path its package ships (/lib or /usr/lib: usrmerge), so
    // ask for every spelling at once (one dpkg run; unknown spellings are ignored).
    const tries = Object.fromEntries(needed.map((lib) => {
      assert.ok(paths[lib], `ldd does not resolve ${lib}`);
      const real = fs.realpathSync(paths[lib]);
      const dirs = [path.dirname(paths[lib]), path.dirname(real)].flatMap((d) => [d, d.replace(/^\/usr/, ''), `/usr${d}`]);
      return [lib, [...new Set([real, ...dirs.map((d) => path.join(d, lib)), ...dirs.map((d) => path.join(d, path.basename(real)))])]];
    }));
    const owners = {};
    const r = spawnSync('dpkg', ['-S', ...Object.values(tries).flat()], { encoding: 'utf8' });
    for (const [, pkg, file] of r.stdout.matchAll(/^([^:\s]+)(?::[^:\s]+)?: (.+)$/gm)) owners[file] = pkg;
    const missing = [];
    for (const lib of needed) {
      const owner = tries[lib].map((f) => owners[f]).find(Boolean);
      assert.ok(owner, `dpkg knows no package of ${lib} (${tries[lib].join(', ')})`);
      if (owner !== 'libc6' && !listed.has(owner)) missing.push(`${lib} (${owner})`);
    }
    assert.deepEqual(missing, [], 'add these packages to the Dockerfile runtime stage');
    assert.match(text, /^USER 10001/m);
    assert.match(text, /^ENTRYPOINT \["fornax"\]/m);
    assert.match(text, /^HEALTHCHECK [\s\S]*\/ready/m);
  });
});

// ---- deploy/k8s's pods as processes -------------------------------------------------------
// What Kubernetes provides and one host cannot is replaced by flags appended to each pod's
// own arguments (flags override fornax.yaml, which is used as shipped): the pod network (a
// loopback address per pod, one pair of ports for all, like 4040/9095 on every pod IP),
// DNS (etcd and S3 endpoints: one local etcd and an S3 server, npm @20minutes/s3rver),
// volumes (a directory per pod) and the Secret fornax-s3 (s3rver's keys).

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function spawnLogged(cmd, args, logPath, env) {
  const log = fs.openSync(logPath, 'w');
  const proc = spawn(cmd, args, { stdio: ['ignore', log, log], env });
  fs.closeSync(log);
  proc.exited = new Promise((resolve) => proc.on('exit', (code, sig) => resolve({ code, sig })));
  proc.logPath = logPath;
  return proc;
}

async function stopProc(proc, graceMs) {
  if (proc.exitCode !== null || proc.signalCode !== null) return proc.exited;
  process.kill(proc.pid, 'SIGTERM');
  const t = setTimeout(() => { try { process.kill(proc.pid, 'SIGKILL'); } catch { /* gone */ } }, graceMs);
  const r = await proc.exited;
  clearTimeout(t);
  return r;
}

async function waitFor(fn, what, ms) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try { const v = await fn(); if (v) return v; } catch (e) { last = e; }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
    await sleep(200);
  }
}

const logTail = (p) => { try { return fs.readFileSync(p, 'utf8').split('\n').slice(-15).join('\n'); } catch { return ''; } };

describe('deploy/k8s pods as processes', () => {
  const procs = [];
  const pods = [];
  let dir;
  let s3;
  let etcd;

  before(async () => {
    if (!flags) {
      const help = execFileSync(FORNAX, ['-help'], { encoding: 'utf8' });
      flags = new Set([...help.matchAll(/^ {2}-([A-Za-z0-9._-]+) /gm)].map((m) => m[1]));
    }
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fornax-pods-'));
  });

  after(async () => {
    for (const p of procs.reverse()) await stopProc(p, 10000);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('every pod gets ready; pushes through a distributor are answered by a querier', { timeout: 120000 }, async () => {
    const { objs } = plainObjects();
    const cmText = objs.find((o) => o.kind === 'ConfigMap').data['fornax.yaml'];
    const config = readYaml([], cmText)[0];
    const bucket = config.storage.s3.bucket_name;

    // etcd (one member for the StatefulSet) and the S3 server.
    const [ec, ep, s3port, http, grpc] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
    etcd = spawnLogged('etcd', ['--name', 'e', '--data-dir', path.join(dir, 'etcd'),
      '--listen-client-urls', `http://127.0.0.1:${ec}`, '--advertise-client-urls', `http://127.0.0.1:${ec}`,
      '--listen-peer-urls', `http://127.0.0.1:${ep}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${ep}`,
      '--initial-cluster', `e=http://127.0.0.1:${ep}`], path.join(dir, 'etcd.log'));
    procs.push(etcd);
    const s3js = "const S3rver = require(process.argv[1]); new S3rver({address: '127.0.0.1', port: Number(process.argv[2]), directory: process.argv[3], silent: true, configureBuckets: [{name: process.argv[4]}]}).run();";
    fs.mkdirSync(path.join(dir, 's3'));
    s3 = spawnLogged(process.execPath, ['--openssl-legacy-provider', '-e', s3js, path.join(ROOT, 'tests/e2e/node_modules/@20minutes/s3rver'),
      String(s3port), path.join(dir, 's3'), bucket], path.join(dir, 's3.log'));
    procs.push(s3);
    await waitFor(async () => (await fetch(`http://127.0.0.1:${ec}/health`)).ok, 'etcd', 20000);
    await waitFor(async () => (await fetch(`http://127.0.0.1:${s3port}/`)).status < 500, 's3rver', 20000);

    const cfgPath = path.join(dir, 'fornax.yaml');
    fs.writeFileSync(cfgPath, cmText);
    const secret = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' };
    let ipN = 10;
    for (const w of objs.filter(isWorkload)) {
      for (const c of fornaxContainers(w)) {
        for (let i = 0; i < w.spec.replicas; i++) {
          const name = w.kind === 'StatefulSet' ? `${w.metadata.name}-${i}` : `${w.metadata.name}-5d8f9-${'abcdefgh'[i]}`;
          const ip = `127.0.0.${ipN++}`;
          const env = { ...process.env };
          for (const e of c.env || []) {
            const f = e.valueFrom?.fieldRef?.fieldPath;
            const sec = e.valueFrom?.secretKeyRef;
            env[e.name] = e.value ?? (f === 'metadata.name' ? name : f === 'status.podIP' ? ip : sec?.name === 'fornax-s3' ? secret[sec.key] : undefined);
            assert.notEqual(env[e.name], undefined, `${name}: cannot provide ${e.name}`);
          }
          const args = c.args.map((a) => (a.startsWith('-config.file=') ? `-config.file=${cfgPath}` : a.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (_, v) => env[v])));
          const data = path.join(dir, name);
          fs.mkdirSync(data);
          const host = [`-server.http-listen-address=${ip}`, `-server.grpc-listen-address=${ip}`,
            `-server.http-listen-port=${http}`, `-server.grpc-listen-port=${grpc}`, `-data-dir=${data}`,
            `-ring.etcd.endpoints=127.0.0.1:${ec}`, `-storage.s3.endpoint=127.0.0.1:${s3port}`,
            '-storage.s3.insecure=true', '-storage.s3.force-path-style=true'];
          const proc = spawnLogged(FORNAX, [...args, ...host], path.join(dir, `${name}.log`), env);
          procs.push(proc);
          pods.push({ name, ip, target: argValue(c, '-target'), proc, url: `http://${ip}:${http}`, grace: w.spec.template.spec.terminationGracePeriodSeconds });
        }
      }
    }
    assert.deepEqual(pods.map((p) => p.target).reduce((m, t) => ({ ...m, [t]: (m[t] || 0) + 1 }), {}),
      { ingester: 3, distributor: 2, querier: 2, 'store-gateway': 2, compactor: 1 });
    for (const p of pods) {
      await waitFor(async () => {
        if (p.proc.exitCode !== null) throw new Error(`${p.name} exited: ${logTail(p.proc.logPath)}`);
        return (await fetch(`${p.url}/ready`)).status === 200;
      }, `${p.name} /ready`, 60000).catch((e) => { throw new Error(`${e.message}\n${logTail(p.proc.logPath)}`); });
    }

    // The rings hold the pods under their pod names, at their pod IPs.
    const querier = pods.find((p) => p.target === 'querier');
    const ring = async (route) => (await (await fetch(`${querier.url}${route}`, { headers: { Accept: 'application/json' } })).json()).instances;
    const ingesters = await ring('/ring');
    assert.deepEqual(ingesters.map((x) => [x.id, x.address.split(':')[0], x.state]).sort(),
      pods.filter((p) => p.target === 'ingester').map((p) => [p.name, p.ip, 'ACTIVE']).sort());
    assert.deepEqual((await ring('/store-gateway/ring')).map((x) => x.id).sort(), ['fornax-store-gateway-0', 'fornax-store-gateway-1']);

    // A push through each distributor, answered by each querier (replication factor 3).
    const now = Math.floor(Date.now() / 1000);
    for (const [i, d] of pods.filter((p) => p.target === 'distributor').entries()) {
      const q = new URLSearchParams({ name: 'deploy-sim.cpu', from: String(now - 20 + i), until: String(now - 10 + i), sampleRate: '100' });
      const r = await fetch(`${d.url}/ingest?${q}`, { method: 'POST', body: i === 0 ? 'main;work 30\n' : 'main;idle 10\n' });
      assert.equal(r.status, 200, `push via ${d.name}: ${await r.text()}`);
    }
    // 40 samples at 100 Hz = 0.4 s of CPU, counted once although 3 ingesters hold each.
    const TICKS = 40 * 1e7;
    for (const q of pods.filter((p) => p.target === 'querier')) {
      const params = new URLSearchParams({ query: 'process_cpu:cpu:nanoseconds:cpu:nanoseconds{service_name="deploy-sim"}', from: String(now - 3600), until: String(now + 60), format: 'json' });
      const fb = await waitFor(async () => {
        const r = await fetch(`${q.url}/pyroscope/render?${params}`);
        const text = await r.text();
        const j = r.ok && JSON.parse(text);
        if (j?.flamebearer?.numTicks !== TICKS) throw new Error(`${r.status} ${text.slice(0, 300)}`);
        return j;
      }, `${q.name} to answer ${TICKS} ticks`, 20000);
      assert.ok(fb.flamebearer.names.includes('work') && fb.flamebearer.names.includes('idle'));
    }

    // SIGTERM: every pod exits 0 well within its terminationGracePeriodSeconds.
    for (const p of [...pods].reverse()) {
      const t0 = Date.now();
      const r = await stopProc(p.proc, p.grace * 1000);
      assert.deepEqual(r, { code: 0, sig: null }, `${p.name} on SIGTERM: ${logTail(p.proc.logPath)}`);
      assert.ok(Date.now() - t0 < p.grace * 1000, `${p.name} took longer than its grace period`);
    }
  });
});
