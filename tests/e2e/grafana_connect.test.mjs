// The Connect client Grafana's Pyroscope data source uses, for real: `buf curl` (npm
// @bufbuild/buf) is built on connect-go, the library whose generated QuerierServiceClient
// Grafana calls with default options - Connect protocol, binary protobuf, HTTP/1.1
// (docs/api.md, ../shared/reference/grafana-client.md §1). It compiles Fornax's own
// proto/ as the schema, so a field number or type that disagreed with the wire would
// show here as a decode error or a missing field.
//
// Every RPC Grafana makes is sent the way Grafana sends it and must equal the answer the
// same request gets through Fornax's JSON codec; errors must come back as Connect error
// envelopes with the right code.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { Label, Profile } from 'pprof-format';
import { Fornax, FIXTURES, ROOT } from './lib/fornax.mjs';

const BUF = path.join(ROOT, 'tests/e2e/node_modules/.bin/buf');
const SCHEMA = path.join(ROOT, 'proto');
const CPU = 'process_cpu:cpu:nanoseconds:cpu:nanoseconds';
const RANGE = { start: '0', end: '4102444800000' };

const SPAN_A = '00000000000000a1';
const SPAN_B = '00000000000000b2';
let f;
let spanTotals; // nanoseconds of CPU the pushed samples of each span carry

// Runs one unary call through connect-go. Resolves {code, out, err}: code is buf's exit
// status (0 on success), out the response as proto3 JSON text.
function bufCurl(service, method, body) {
  const args = ['curl', '--schema', SCHEMA, '--protocol', 'connect', '-d', JSON.stringify(body),
    `${f.url}/${service}/${method}`];
  return new Promise((resolve) => {
    execFile(BUF, args, { maxBuffer: 64 << 20 }, (error, out, err) => {
      resolve({ code: error ? (error.code ?? 1) : 0, out, err });
    });
  });
}

async function viaConnectGo(method, body) {
  const r = await bufCurl('querier.v1.QuerierService', method, body);
  assert.equal(r.code, 0, `${method} through connect-go failed: ${r.err}`);
  return JSON.parse(r.out);
}

async function viaJson(method, body) {
  const r = await fetch(`${f.url}/querier.v1.QuerierService/${method}`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  assert.equal(r.status, 200, `${method} as JSON: ${r.status}`);
  return r.json();
}

before(async () => {
  // The fixtures were captured at different times: queries span all of them.
  f = await Fornax.start({ name: 'grafana-connect',
    flags: ['-querier.max-query-length=0', '-querier.max-query-lookback=0'] });
  // A Go CPU profile through /ingest, and the captured buf curl push through connect-go.
  await f.ingest({ name: 'gosvc{env=prod}', format: 'pprof' },
    fs.readFileSync(path.join(FIXTURES, 'pprof/go-cpu.pb.gz')));
  const input = path.join(FIXTURES, 'connect-push/buf-curl-push.input.json');
  const push = await bufCurl('push.v1.PusherService', 'Push', JSON.parse(fs.readFileSync(input, 'utf8')));
  assert.equal(push.code, 0, `Push through connect-go failed: ${push.err}`);

  // The Go CPU profile again as a traced service would send it: a span_id sample label
  // on two thirds of the samples (what tracer integrations attach), for span profiles.
  const p = Profile.decode(zlib.gunzipSync(fs.readFileSync(path.join(FIXTURES, 'pprof/go-cpu.pb.gz'))));
  const key = p.stringTable.dedup('span_id');
  const cpuCol = p.sampleType.findIndex((t) => p.stringTable.strings[t.type] === 'cpu');
  spanTotals = { [SPAN_A]: 0, [SPAN_B]: 0 };
  p.sample.forEach((sample, i) => {
    const span = [SPAN_A, SPAN_B, null][i % 3];
    if (!span) return;
    sample.label = [...(sample.label ?? []), new Label({ key, str: p.stringTable.dedup(span) })];
    spanTotals[span] += Number(sample.value[cpuCol]);
  });
  await f.ingest({ name: 'traced{env=prod}', format: 'pprof' }, zlib.gzipSync(p.encode()));
});

after(async () => { if (f) await f.stop(); });

test('"Save & test": ProfileTypes over a tiny 1970 window succeeds', async () => {
  const r = await viaConnectGo('ProfileTypes', { start: '1000', end: '4000' });
  assert.deepEqual(r.profileTypes ?? [], []);
});

test('every query Grafana sends decodes in connect-go and equals the JSON answer', async () => {
  const calls = [
    ['ProfileTypes', { ...RANGE }],
    ['LabelNames', { matchers: ['{service_name="gosvc"}'], ...RANGE }],
    ['LabelValues', { name: 'service_name', matchers: ['{}'], ...RANGE }],
    ['Series', { matchers: ['{}'], labelNames: ['service_name', '__profile_type__'], ...RANGE }],
    ['SelectMergeStacktraces', { profileTypeID: CPU, labelSelector: '{service_name="gosvc"}', ...RANGE }],
    ['SelectMergeStacktraces', { profileTypeID: CPU, labelSelector: '{}', maxNodes: '16', ...RANGE }],
    ['SelectSeries', { profileTypeID: CPU, labelSelector: '{}', step: 15, groupBy: ['service_name'], ...RANGE }],
    ['SelectSeries', { profileTypeID: CPU, labelSelector: '{}', step: 15, groupBy: ['service_name'],
      exemplarType: 'EXEMPLAR_TYPE_INDIVIDUAL', ...RANGE }],
    ['SelectHeatmap', { profileTypeID: CPU, labelSelector: '{}', step: 64100700, groupBy: ['service_name'],
      queryType: 'HEATMAP_QUERY_TYPE_INDIVIDUAL', exemplarType: 'EXEMPLAR_TYPE_INDIVIDUAL', limit: '10', ...RANGE }],
    ['SelectMergeProfile', { profileTypeID: CPU, labelSelector: '{service_name="gosvc"}', ...RANGE }],
    ['GetProfileStats', {}],
    ['SelectMergeSpanProfile', { profileTypeID: CPU, labelSelector: '{service_name="traced"}', spanSelector: [SPAN_A], ...RANGE }],
    ['Diff', {
      left: { profileTypeID: CPU, labelSelector: '{service_name="gosvc"}', ...RANGE },
      right: { profileTypeID: CPU, labelSelector: '{}', ...RANGE } }],
  ];
  for (const [method, body] of calls) {
    assert.deepEqual(await viaConnectGo(method, body), await viaJson(method, body),
      `${method} ${JSON.stringify(body)}: binary (connect-go) and JSON answers differ`);
  }
});

test('what connect-go decodes is the data that was pushed', async () => {
  const types = (await viaConnectGo('ProfileTypes', RANGE)).profileTypes.map((t) => t.ID);
  assert.ok(types.includes(CPU), `ProfileTypes: ${types}`);
  const services = (await viaConnectGo('LabelValues', { name: 'service_name', ...RANGE })).names;
  assert.deepEqual(services, ['buf-curl-test', 'gosvc', 'traced']);

  const fg = (await viaConnectGo('SelectMergeStacktraces',
    { profileTypeID: CPU, labelSelector: '{service_name="gosvc"}', ...RANGE })).flamegraph;
  assert.ok(fg.names.includes('main.main'), `flame graph names: ${fg.names.slice(0, 10)}`);
  // The merged pprof and the flame graph count the same nanoseconds.
  const p = await viaConnectGo('SelectMergeProfile',
    { profileTypeID: CPU, labelSelector: '{service_name="gosvc"}', ...RANGE });
  const pprofTotal = p.sample.reduce((s, x) => s + Number(x.value[0]), 0);
  assert.ok(pprofTotal > 0);
  assert.equal(String(pprofTotal), fg.total);
  // And the time series sums to it too.
  const series = (await viaConnectGo('SelectSeries', {
    profileTypeID: CPU, labelSelector: '{service_name="gosvc"}', step: 3600, ...RANGE })).series;
  assert.equal(series.length, 1);
  assert.equal(series[0].points.reduce((s, x) => s + x.value, 0), pprofTotal);
});

test('"profiles for this span": SelectMergeSpanProfile counts exactly the span\'s samples', async () => {
  const span = async (ids) => (await viaConnectGo('SelectMergeSpanProfile', {
    profileTypeID: CPU, labelSelector: '{service_name="traced"}', spanSelector: ids, ...RANGE })).flamegraph;
  assert.ok(spanTotals[SPAN_A] > 0 && spanTotals[SPAN_B] > 0);
  assert.equal((await span([SPAN_A])).total, String(spanTotals[SPAN_A]));
  assert.equal((await span([SPAN_B])).total, String(spanTotals[SPAN_B]));
  assert.equal((await span([SPAN_A, SPAN_B])).total, String(spanTotals[SPAN_A] + spanTotals[SPAN_B]));
  assert.equal(await span(['00000000000000ff']), undefined, 'an unknown span has no flame graph');
  const bad = await bufCurl('querier.v1.QuerierService', 'SelectMergeSpanProfile',
    { profileTypeID: CPU, labelSelector: '{}', spanSelector: ['xyz'], ...RANGE });
  assert.equal(JSON.parse(bad.out || bad.err).code, 'invalid_argument');
});

test('exemplars, their drill-down and heatmaps name the pushed profiles', async () => {
  // Grafana's toggles profilesExemplars and profilesHeatmap: SelectSeries with
  // exemplar_type INDIVIDUAL, then SelectMergeStacktraces with the clicked exemplar's
  // profile_id_selector; SelectHeatmap with step >= range/64.
  const sel = { profileTypeID: CPU, labelSelector: '{service_name="gosvc"}', ...RANGE };
  const series = (await viaConnectGo('SelectSeries',
    { ...sel, step: 3600, exemplarType: 'EXEMPLAR_TYPE_INDIVIDUAL' })).series;
  assert.equal(series.length, 1);
  const exemplars = series[0].points.flatMap((p) => p.exemplars ?? []);
  assert.equal(exemplars.length, 1, 'one pushed profile, one exemplar');
  const [ex] = exemplars;
  assert.match(ex.profileId, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  assert.equal(ex.value, String(series[0].points.reduce((s, x) => s + x.value, 0)));
  assert.ok(ex.labels.some((l) => l.name === 'service_name' && l.value === 'gosvc'));

  const fg = (await viaConnectGo('SelectMergeStacktraces', { ...sel, labelSelector: '{}',
    profileIdSelector: [ex.profileId] })).flamegraph;
  assert.equal(fg.total, ex.value, 'the drill-down is that one profile');
  const p = await viaConnectGo('SelectMergeProfile', { ...sel, profileIdSelector: [ex.profileId] });
  assert.equal(String(p.sample.reduce((s, x) => s + Number(x.value[0]), 0)), ex.value);
  const bad = await bufCurl('querier.v1.QuerierService', 'SelectMergeStacktraces',
    { ...sel, profileIdSelector: ['not-a-uuid'] });
  const env = JSON.parse(bad.out || bad.err);
  assert.equal(env.code, 'invalid_argument');
  assert.match(env.message, /not-a-uuid/);

  const hm = (await viaConnectGo('SelectHeatmap', { ...sel, labelSelector: '{}', step: 64100700,
    groupBy: ['service_name'], queryType: 'HEATMAP_QUERY_TYPE_INDIVIDUAL' })).series;
  const gosvc = hm.find((s) => s.labels.some((l) => l.value === 'gosvc'));
  const counts = gosvc.slots.flatMap((s) => s.counts);
  assert.equal(counts.reduce((s, x) => s + x, 0), 1, 'one profile, counted once');
  for (const s of hm) for (const slot of s.slots) assert.equal(slot.yMin.length, slot.counts.length);

  // A span heatmap counts (profile, span) pairs valued by the span's samples.
  const spanHm = (await viaConnectGo('SelectHeatmap', { ...sel, labelSelector: '{service_name="traced"}',
    step: 64100700, queryType: 'HEATMAP_QUERY_TYPE_SPAN', exemplarType: 'EXEMPLAR_TYPE_SPAN' })).series;
  assert.equal(spanHm.length, 1);
  const slots = spanHm[0].slots;
  assert.equal(slots.flatMap((s) => s.counts).reduce((s, x) => s + x, 0), 2, 'one profile, two spans');
  const spanEx = slots.flatMap((s) => s.exemplars ?? []);
  assert.deepEqual(spanEx.map((e) => [e.spanId, e.value]).sort(),
    [[SPAN_A, String(spanTotals[SPAN_A])], [SPAN_B, String(spanTotals[SPAN_B])]].sort());
});

test('errors reach connect-go as Connect error envelopes with the right code', async () => {
  const bad = await bufCurl('querier.v1.QuerierService', 'SelectMergeStacktraces',
    { profileTypeID: CPU, labelSelector: '{service_name=', ...RANGE });
  assert.notEqual(bad.code, 0);
  const env = JSON.parse(bad.out || bad.err);
  assert.equal(env.code, 'invalid_argument');
  assert.match(env.message, /selector/i);

  const type = await bufCurl('querier.v1.QuerierService', 'SelectSeries',
    { profileTypeID: 'nope', labelSelector: '{}', step: 15, ...RANGE });
  assert.equal(JSON.parse(type.out || type.err).code, 'invalid_argument');

  const push = await bufCurl('push.v1.PusherService', 'Push', {
    series: [{ labels: [{ name: '__name__', value: 'process_cpu' }, { name: 'service_name', value: 'x' }],
      samples: [{ rawProfile: Buffer.from('not a pprof').toString('base64'), ID: 'x' }] }] });
  const penv = JSON.parse(push.out || push.err);
  assert.equal(penv.code, 'invalid_argument', `push of garbage: ${push.out} ${push.err}`);
  // The server is still serving.
  assert.ok((await viaConnectGo('ProfileTypes', RANGE)).profileTypes.length > 0);
});
