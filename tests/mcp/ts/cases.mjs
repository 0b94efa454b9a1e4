// The hosts the second newcomer review found trouble with, driven by the official TypeScript MCP SDK:
// a call the SDK cancels at its timeout (progress first; then nothing more from the server, and its
// listener closed), two hosts authorizing at once (one shared verify port), and zero services (schemas that
// strict validators accept). Env in: GET_TOKEN, HOME, SCALEKIT_* (the emulator), TOKENBROKER_VERIFY_PORT.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ElicitRequestSchema, ElicitationCompleteNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import Ajv from 'ajv';
import Ajv2020 from 'ajv/dist/2020.js';

const G = process.env.GET_TOKEN;
const PORT = Number(process.env.TOKENBROKER_VERIFY_PORT);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let failures = 0;
const check = (name, ok, detail = '') => { if (!ok) failures++; console.log(`${ok ? 'PASS' : 'FAIL'} ${name}${detail ? ': ' + detail : ''}`); };
const portFree = () => new Promise((r) => { const s = net.createServer(); s.once('error', () => r(false)); s.listen(PORT, '127.0.0.1', () => s.close(() => r(true))); });
for (const s of ['gmail', 'slack']) spawnSync(G, ['-q', 'config', 'add', s, s], { env: process.env });

async function host(name, onElicit) {
  const c = new Client({ name, version: '0' }, { capabilities: { elicitation: { form: {}, url: {} } } });
  c.setRequestHandler(ElicitRequestSchema, async (req) => { onElicit(req.params.url); return { action: 'accept' }; });
  const completed = [];
  c.setNotificationHandler(ElicitationCompleteNotificationSchema, (n) => completed.push(n.params.elicitationId));
  const t = new StdioClientTransport({ command: G, args: ['mcp'], env: { ...process.env }, stderr: 'pipe' });
  const seen = [];
  await c.connect(t);
  const inner = t.onmessage;
  t.onmessage = (m, extra) => { seen.push({ at: Date.now(), m }); inner?.(m, extra); };
  return { c, seen, completed };
}

async function approve(link) {
  const page = await (await fetch(link)).text();
  const action = /action="([^"]+approve)"/.exec(page)[1];
  const r = await fetch(new URL(action, link), { method: 'POST', body: '' });
  return r.status;
}

// 1. Cancellation: the user "opens" the link but never approves; the SDK gives up after 12 s.
{
  const { c, seen } = await host('cancel', () => {});
  let progress = 0;
  let threw = '';
  try {
    await c.callTool({ name: 'authorize', arguments: { service: 'gmail' } }, undefined, { timeout: 12000, onprogress: () => progress++ });
  } catch (e) { threw = `${e.code} ${e.message}`; }
  const cancelledAt = Date.now();
  check('cancel: the call timed out in the SDK', threw !== '', threw);
  check('cancel: progress while waiting', progress >= 1, `${progress} notifications`);
  await sleep(1500);
  check('cancel: the listener closed with the call', await portFree());
  await sleep(5000);
  const after = seen.filter((e) => e.at > cancelledAt + 500);
  check('cancel: nothing more sent for the call', after.length === 0, JSON.stringify(after.map((e) => e.m.method ?? e.m.id)));
  await c.close();
}

// 2. Two hosts at once, one verify port: each gets its own redirect and finishes.
{
  const run = async (name, service) => {
    const h = await host(name, (url) => setTimeout(() => approve(url).catch(() => {}), 700));
    let outcome = '';
    try {
      const r = await h.c.callTool({ name: 'authorize', arguments: { service } }, undefined, { timeout: 30000 });
      outcome = r.structuredContent?.status;
    } catch (e) { outcome = 'threw ' + e.message; }
    const s = await h.c.callTool({ name: 'status', arguments: { service } });
    await h.c.close();
    return [outcome, s.structuredContent.services[0].ready];
  };
  const [a, b] = await Promise.all([run('hostA', 'gmail'), run('hostB', 'slack')]);
  check('two hosts: both authorized', a[0] === 'ok' && b[0] === 'ok' && a[1] && b[1], JSON.stringify([a, b]));
}

// 3. Zero services: every schema compiles under strict Ajv (draft-07 and 2020-12), no empty enum.
{
  fs.writeFileSync(process.env.HOME + '/.config/tokenbroker/connections.json', '{}', { mode: 0o600 });
  const c = new Client({ name: 'empty', version: '0' }, { capabilities: {} });
  await c.connect(new StdioClientTransport({ command: G, args: ['mcp'], env: { ...process.env }, stderr: 'pipe' }));
  const { tools } = await c.listTools();
  for (const tl of tools) for (const [n, A] of [['draft-07', Ajv], ['2020-12', Ajv2020]]) {
    const w = [];
    const ajv = new A({ strict: true, logger: { log() {}, warn: (m) => w.push(m), error: (m) => w.push(m) } });
    let ok = true;
    try { ajv.compile(tl.inputSchema); } catch (e) { ok = false; w.push(e.message); }
    check(`zero services: ${tl.name} schema (${n})`, ok && w.length === 0, w.join('; '));
  }
  await c.close();
}

console.log(failures ? `${failures} checks failed` : 'all checks passed');
setTimeout(() => process.exit(failures ? 1 : 0), 100);
