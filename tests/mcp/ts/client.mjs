// From the second newcomer review (shared/reference/mcp-interop/client.mjs), run by .ci/mcp-ts-test.
// `get-token mcp` driven by the official TypeScript MCP SDK over stdio, against the tokenbroker emulator.
// Env in: GET_TOKEN (binary), HOME (temp, holds connections.json), SCALEKIT_* (emulator), TOKENBROKER_VERIFY_PORT.
import { spawnSync } from 'node:child_process';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import {
  ElicitRequestSchema, ElicitationCompleteNotificationSchema, McpError, UrlElicitationRequiredError,
  LATEST_PROTOCOL_VERSION, CallToolResultSchema,
} from '@modelcontextprotocol/sdk/types.js';
import Ajv from 'ajv';
import Ajv2020 from 'ajv/dist/2020.js';
import { startStandin } from './standin.mjs';

const GET_TOKEN = process.env.GET_TOKEN;
const MODE = process.env.MODE || 'url'; // url | form | none
const results = [];
function record(name, ok, detail = '') {
  results.push({ name, ok, detail });
  console.log(`${ok ? 'PASS' : 'FAIL'} ${name}${detail ? ': ' + detail : ''}`);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Transport tap: every JSON-RPC message in both directions.
class Tap {
  constructor(inner) { this.inner = inner; this.log = []; }
  async start() {
    this.inner.onmessage = (m, extra) => { this.log.push({ dir: 'server->client', t: Date.now(), m }); this.onmessage?.(m, extra); };
    this.inner.onerror = (e) => { this.log.push({ dir: 'transport-error', m: String(e) }); this.onerror?.(e); };
    this.inner.onclose = () => this.onclose?.();
    return this.inner.start();
  }
  async send(m, o) { this.log.push({ dir: 'client->server', t: Date.now(), m }); return this.inner.send(m, o); }
  async close() { return this.inner.close(); }
  setProtocolVersion(v) { this.negotiated = v; this.inner.setProtocolVersion?.(v); }
  get stderr() { return this.inner.stderr; }
}

// What a browser does with the link: GET the page, POST its Approve form, follow redirects (303 -> GET).
async function browserApprove(link, which = 'approve') {
  const page = await (await fetch(link)).text();
  const forms = [...page.matchAll(/<form[^>]*method="post"[^>]*action="([^"]+)"/gi)].map((m) => m[1]);
  const action = forms.find((a) => a.endsWith('/' + which));
  if (!action) throw new Error('no ' + which + ' form in link page: ' + page.slice(0, 200));
  const res = await fetch(new URL(action, link), { method: 'POST', body: '', redirect: 'follow' });
  const text = await res.text();
  return { status: res.status, finalUrl: res.url, redirected: res.redirected, text: text.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim().slice(-160) };
}

const standin = await startStandin();
const base = `http://127.0.0.1:${standin.port}`;
// connections.json under the temp HOME: gmail (authorize) and api (request, pointed at the stand-in).
for (const args of [['config', 'add', 'gmail', 'gmail'], ['config', 'add', 'api', 'internal', '--host', `127.0.0.1:${standin.port}`]]) {
  const r = spawnSync(GET_TOKEN, ['-q', ...args], { env: process.env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error('config add failed: ' + r.stderr);
}

const elicited = [];
const completed = [];
let browserResults = [];
let approveDelayMs = Number(process.env.APPROVE_DELAY_MS || 500);
let elicitAction = process.env.ELICIT_ACTION || 'accept';

const capabilities = MODE === 'url' ? { elicitation: { form: {}, url: {} } } : MODE === 'form' ? { elicitation: { form: {} } } : {};
const client = new Client({ name: 'ts-sdk-probe', version: '0.0.1' }, { capabilities });
if (MODE !== 'none') client.setRequestHandler(ElicitRequestSchema, async (req) => {
  elicited.push(req.params);
  if (req.params.mode === 'url' && elicitAction === 'accept') {
    const link = req.params.url;
    setTimeout(() => browserApprove(link).then((r) => browserResults.push(r), (e) => browserResults.push({ error: String(e) })), approveDelayMs);
  }
  return { action: elicitAction };
});
client.setNotificationHandler(ElicitationCompleteNotificationSchema, (n) => { completed.push(n.params.elicitationId); });

const transport = new Tap(new StdioClientTransport({
  command: GET_TOKEN, args: ['mcp', ...(process.env.MCP_ARGS ? process.env.MCP_ARGS.split(' ') : [])],
  env: { ...process.env }, stderr: 'pipe',
}));
let serverStderr = '';
transport.stderr?.on('data', (d) => { serverStderr += d; });

const t0 = Date.now();
await client.connect(transport);
const initResp = transport.log.find((e) => e.dir === 'server->client' && e.m.result?.protocolVersion);
record('initialize', !!initResp, `protocolVersion=${initResp?.m.result.protocolVersion} (client asked ${LATEST_PROTOCOL_VERSION}), server=${JSON.stringify(client.getServerVersion())}, caps=${JSON.stringify(client.getServerCapabilities())}, instructions=${!!client.getInstructions()}, ${Date.now() - t0} ms`);

// tools/list, validated by the SDK's zod schemas; then every inputSchema compiled by Ajv (strict) as the
// SDK's own validator (Ajv) would, draft-07 and 2020-12.
const { tools } = await client.listTools();
record('tools/list', true, tools.map((t) => t.name).join(', '));
for (const t of tools) {
  for (const [label, A] of [['ajv draft-07 strict', Ajv], ['ajv 2020-12 strict', Ajv2020]]) {
    const warnings = [];
    const ajv = new A({ strict: true, allErrors: true, logger: { log() {}, warn: (m) => warnings.push(m), error: (m) => warnings.push(m) } });
    try { ajv.compile(t.inputSchema); record(`inputSchema ${t.name} (${label})`, warnings.length === 0, warnings.join('; ')); }
    catch (e) { record(`inputSchema ${t.name} (${label})`, false, e.message); }
  }
  console.log(`   ${t.name}: annotations=${JSON.stringify(t.annotations ?? null)} outputSchema=${!!t.outputSchema} schema=${JSON.stringify(t.inputSchema)}`);
}

function structuredOk(name, r) {
  const parsed = CallToolResultSchema.safeParse(r);
  let textJson = null;
  try { textJson = JSON.parse(r.content?.[0]?.text); } catch {}
  const same = JSON.stringify(textJson) === JSON.stringify(r.structuredContent);
  record(name, parsed.success && !r.isError && !!r.structuredContent && same,
    `isError=${!!r.isError} structured=${!!r.structuredContent} text==structured:${same} ${JSON.stringify(r.structuredContent).slice(0, 300)}`);
}
async function expectError(name, call) {
  try {
    const r = await call();
    record(name, true, `tool result isError=${!!r.isError}: ${JSON.stringify(r.structuredContent ?? r.content).slice(0, 300)}`);
    return r;
  } catch (e) {
    record(name, true, `JSON-RPC error ${e.code}: ${e.message.slice(0, 300)}`);
    return e;
  }
}

structuredOk('call list_services', await client.callTool({ name: 'list_services', arguments: {} }));
structuredOk('call status (all)', await client.callTool({ name: 'status', arguments: {} }));
structuredOk('call status gmail', await client.callTool({ name: 'status', arguments: { service: 'gmail' } }));
await expectError('status unknown service "nope"', () => client.callTool({ name: 'status', arguments: { service: 'nope' } }));
await expectError('status service=42 (wrong type)', () => client.callTool({ name: 'status', arguments: { service: 42 } }));
await expectError('unknown tool "frobnicate"', () => client.callTool({ name: 'frobnicate', arguments: {} }));
await expectError('authorize without service', () => client.callTool({ name: 'authorize', arguments: {} }));
await expectError('list_services with extra arg', () => client.callTool({ name: 'list_services', arguments: { x: 1 } }));

// authorize: URL elicitation -> accept -> browser approves -> completion notification -> result ok.
const ta = Date.now();
let auth;
try {
  auth = await client.callTool({ name: 'authorize', arguments: { service: 'gmail' } }, undefined, { timeout: Number(process.env.AUTH_TIMEOUT_MS || 60000) });
  record(`authorize gmail (mode ${MODE})`, !auth.isError, `${Date.now() - ta} ms; ${JSON.stringify(auth.structuredContent).slice(0, 400)}`);
} catch (e) {
  record(`authorize gmail (mode ${MODE})`, false, `${Date.now() - ta} ms; ${e.code} ${e.message}`);
}
for (let i = 0; i < 100 && MODE === 'url' && completed.length < 1; i++) await sleep(50);
if (MODE === 'url') {
  const e = elicited[0];
  record('elicitation/create (url)', !!e && e.mode === 'url' && !!e.elicitationId, JSON.stringify(e));
  record('browser approve', browserResults[0] && !browserResults[0].error, JSON.stringify(browserResults[0]));
  record('notifications/elicitation/complete', completed.length === 1 && completed[0] === e?.elicitationId, JSON.stringify(completed));
}
structuredOk('status gmail after authorize', await client.callTool({ name: 'status', arguments: { service: 'gmail' } }));

// request: account "api" not yet authorized -> -32042 with the link (URL mode) or tool error (else).
let first;
try {
  first = await client.callTool({ name: 'request', arguments: { url: `${base}/hello?x=1` } });
  record('request before authorization', true, `no throw; isError=${first.isError} ${JSON.stringify(first.structuredContent ?? first.content).slice(0, 400)}`);
} catch (e) {
  const isUrlErr = e instanceof UrlElicitationRequiredError;
  record('request before authorization -> -32042', e.code === -32042 && isUrlErr, `${e.constructor.name} code=${e.code} msg=${e.message} elicitations=${JSON.stringify(e.elicitations ?? e.data)}`);
  if (isUrlErr) {
    const el = e.elicitations[0];
    // Retry at once (a model looping): the same elicitation should come back.
    try { await client.callTool({ name: 'request', arguments: { url: `${base}/hello` } }); } catch (e2) {
      record('retry while waiting -> same elicitation', e2.elicitations?.[0]?.elicitationId === el.elicitationId, `${e2.elicitations?.[0]?.elicitationId} vs ${el.elicitationId}`);
    }
    const br = await browserApprove(el.url);
    record('browser approve (-32042 link)', br.status === 200, JSON.stringify(br));
    for (let i = 0; i < 100 && !completed.includes(el.elicitationId); i++) await sleep(50);
    record('completion notification for -32042 elicitation', completed.includes(el.elicitationId), JSON.stringify(completed));
  }
}
if (MODE === 'url') {
  structuredOk('request GET /hello', await client.callTool({ name: 'request', arguments: { url: `${base}/hello?x=1` } }));
  structuredOk('request POST JSON body + header', await client.callTool({ name: 'request', arguments: { url: `${base}/post`, method: 'POST', headers: { 'X-Custom': 'yes' }, body: { a: 1 } } }));
  structuredOk('request POST string body', await client.callTool({ name: 'request', arguments: { url: `${base}/post`, method: 'POST', body: 'a=1&b=2' } }));
  structuredOk('request text/plain answer', await client.callTool({ name: 'request', arguments: { url: `${base}/text` } }));
  const echo = await client.callTool({ name: 'request', arguments: { url: `${base}/echo-token` } });
  structuredOk('request /echo-token (masked?)', echo);
  await expectError('request 418', () => client.callTool({ name: 'request', arguments: { url: `${base}/teapot` } }));
  await expectError('request always-401', () => client.callTool({ name: 'request', arguments: { url: `${base}/always-401` } }));
  await expectError('request redirect to other host', () => client.callTool({ name: 'request', arguments: { url: `${base}/redirect-away` } }));
  await expectError('request 400 KiB body', async () => { const r = await client.callTool({ name: 'request', arguments: { url: `${base}/big` } }); return { ...r, structuredContent: { keys: Object.keys(r.structuredContent || {}), len: JSON.stringify(r).length, truncated: r.structuredContent?.truncated } }; });
  await expectError('request with Authorization header', () => client.callTool({ name: 'request', arguments: { url: `${base}/hello`, headers: { Authorization: 'Bearer mine' } } }));
  await expectError('request header value not a string', () => client.callTool({ name: 'request', arguments: { url: `${base}/hello`, headers: { 'X-Custom': 5 } } }));
  await expectError('request foreign host https://example.com', () => client.callTool({ name: 'request', arguments: { url: 'https://example.com/x', service: 'api' } }));
  await expectError('request URL of no service', () => client.callTool({ name: 'request', arguments: { url: 'https://example.com/x' } }));
  await expectError('request gmail url, service api', () => client.callTool({ name: 'request', arguments: { url: 'https://gmail.googleapis.com/gmail/v1/users/me/profile', service: 'api' } }));
  await expectError('request not a URL', () => client.callTool({ name: 'request', arguments: { url: 'not a url' } }));
  await expectError('request method "GE T"', () => client.callTool({ name: 'request', arguments: { url: `${base}/hello`, method: 'GE T' } }));
}

await client.close();
await sleep(300);

// No token, API token or client secret anywhere in the transcript or the server's stderr.
const transcript = JSON.stringify(transport.log);
const secrets = [...standin.seenTokens];
if (process.env.SCALEKIT_CLIENT_SECRET) secrets.push(process.env.SCALEKIT_CLIENT_SECRET);
const leaks = secrets.filter((s) => transcript.includes(s) || serverStderr.includes(s));
record('no token/secret in any MCP message or server stderr', leaks.length === 0, `${standin.seenTokens.size} distinct bearer token(s) seen by the stand-in; ${transport.log.length} messages; leaks=${leaks.length}; 'Bearer' in transcript: ${transcript.includes('Bearer ')}`);
console.log('server stderr:', JSON.stringify(serverStderr.slice(0, 2000)));
console.log('stand-in requests:', JSON.stringify(standin.requests.map((r) => `${r.method} ${r.url} auth=${r.auth} ct=${r.headers['content-type'] ?? ''} body=${r.body.slice(0, 40)}`)));
import('node:fs').then((fs) => fs.writeFileSync(process.env.TRANSCRIPT || './transcript.json', JSON.stringify(transport.log, null, 1)));
standin.server.close();
const failed = results.filter((r) => !r.ok);
console.log(`\n${results.length - failed.length}/${results.length} checks passed`);
setTimeout(() => process.exit(failed.length ? 1 : 0), 200);
