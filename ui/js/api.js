// Server calls: Connect JSON RPCs of querier.v1.QuerierService, the binary pprof export,
// and the explain API. Adds the tenant header (X-Scope-OrgID) when one is set, and turns
// error replies ({code, message}) into ApiError with a readable message.

const TENANT_KEY = 'fornax.tenant';
const listeners = new Set();

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || `Request failed (HTTP ${status})`);
    this.status = status;
    this.code = code || '';
  }
}

export function tenant() {
  try { return localStorage.getItem(TENANT_KEY) || ''; } catch { return ''; }
}
export function setTenant(t) {
  try { t ? localStorage.setItem(TENANT_KEY, t) : localStorage.removeItem(TENANT_KEY); } catch { /* private mode */ }
}
// fn(err) is called for every 401 so the tenant switcher can show itself.
export function onUnauthorized(fn) { listeners.add(fn); }

function headers(contentType) {
  const hd = { 'Content-Type': contentType };
  const t = tenant();
  if (t) hd['X-Scope-OrgID'] = t;
  return hd;
}

async function failure(res) {
  let code = '', message = '';
  const text = await res.text().catch(() => '');
  try { const j = JSON.parse(text); code = j.code || ''; message = j.message || j.error || ''; } catch { message = text.slice(0, 300); }
  const err = new ApiError(res.status, code, message || `${res.status} ${res.statusText}`);
  if (res.status === 401) for (const fn of listeners) fn(err);
  return err;
}

async function post(path, body, contentType, signal) {
  let res;
  try {
    res = await fetch(path, { method: 'POST', headers: headers(contentType), body, signal });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'unavailable', `Cannot reach the server: ${e.message}`);
  }
  if (!res.ok) throw await failure(res);
  return res;
}

// rpc('SelectMergeStacktraces', {...}) -> parsed JSON response.
export async function rpc(method, req, signal) {
  const res = await post(`/querier.v1.QuerierService/${method}`, JSON.stringify(req), 'application/json', signal);
  const text = await res.text();
  return text ? JSON.parse(text) : {};
}

// The same call in binary protobuf; returns the response bytes.
export async function rpcProto(method, bytes, signal) {
  const res = await post(`/querier.v1.QuerierService/${method}`, bytes, 'application/proto', signal);
  return new Uint8Array(await res.arrayBuffer());
}

export async function explain(req, signal) {
  const res = await post('/api/v1/explain', JSON.stringify(req), 'application/json', signal);
  return res.json();
}

// Tiny protobuf writer for the one binary request the UI sends (SelectMergeProfile).
export function encodeSelectMergeProfile({ profileTypeID, labelSelector, start, end, maxNodes }) {
  const out = [];
  const varint = (v) => {
    let n = BigInt(v);
    if (n < 0n) n += 1n << 64n;
    do { let b = Number(n & 0x7fn); n >>= 7n; if (n) b |= 0x80; out.push(b); } while (n);
  };
  const str = (field, s) => {
    const b = new TextEncoder().encode(s);
    varint((field << 3) | 2); varint(b.length); out.push(...b);
  };
  const int = (field, v) => { varint(field << 3); varint(v); };
  str(1, profileTypeID);
  str(2, labelSelector);
  int(3, start);
  int(4, end);
  if (maxNodes) int(5, maxNodes);
  return new Uint8Array(out);
}
