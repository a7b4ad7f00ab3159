// Live executions seen by an MCP client that is not ours: the official TypeScript SDK client
// (protocol 2025-11-25, so resources/subscribe and notifications/resources/updated).
//
//   node live.mjs PLAN.json stdio COMMAND [ARG...]   spawn COMMAND (with this process's env)
//   node live.mjs PLAN.json http URL                 bearer token from $KITARU_MCP_TOKEN
//
// PLAN.json: {"follow": {target, args}, "progress": {target, args}, "elicit": {target, args,
// answer}}, each a flow to run through kitaru_executions_run. In order, the client
//  1. lists resources and resource templates, reads kitaru://waiting;
//  2. starts `follow`, subscribes to its execution resource, reads it, and re-reads it after
//     every notifications/resources/updated until it is no longer running;
//  3. runs `progress` with wait_seconds and a progress token (onprogress), collecting progress;
//  4. runs `elicit` with wait_seconds, answering the server's elicitation/create (if it asks)
//     with `answer`, then reads the execution until it is no longer running or waiting.
// Prints one JSON report on stdout; the test decides what is right.
import { readFileSync } from 'node:fs';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  ElicitRequestSchema,
  ResourceUpdatedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { transportFor } from './connect.mjs';

const CALL_TIMEOUT_MS = 180_000; // a loaded machine may take long to run a flow
const EVENT_TIMEOUT_MS = 180_000;
const WAIT_SECONDS = 60;

// Resource updates arrive as notifications; a waiter per URI turns them into awaitable events.
class Updates {
  constructor() {
    this.seen = [];
    this.waiters = [];
  }

  push(uri) {
    this.seen.push(uri);
    for (const waiter of this.waiters.filter((w) => w.uri === uri)) waiter.resolve(uri);
    this.waiters = this.waiters.filter((w) => w.uri !== uri);
  }

  // Resolves with the count of updates for `uri` once it exceeds `after`.
  async next(uri, after) {
    if (this.count(uri) > after) return this.count(uri);
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no update for ${uri}`)), EVENT_TIMEOUT_MS);
      this.waiters.push({ uri, resolve: () => { clearTimeout(timer); resolve(); } });
    });
    return this.count(uri);
  }

  count(uri) {
    return this.seen.filter((u) => u === uri).length;
  }
}

async function readJson(client, uri) {
  const { contents } = await client.readResource({ uri });
  return { mimeType: contents[0].mimeType, body: JSON.parse(contents[0].text) };
}

async function run(client, { target, args }, waitSeconds, options = {}) {
  const result = await client.callTool(
    { name: 'kitaru_executions_run', arguments: { target, args, wait_seconds: waitSeconds } },
    undefined,
    { timeout: CALL_TIMEOUT_MS, ...options },
  );
  if (result.isError) throw new Error(`kitaru_executions_run failed: ${result.content[0]?.text}`);
  return result.structuredContent;
}

async function listAndRead(client) {
  const { resources } = await client.listResources();
  const { resourceTemplates } = await client.listResourceTemplates();
  const waiting = await readJson(client, 'kitaru://waiting');
  return {
    capabilities: client.getServerCapabilities()?.resources ?? null,
    resources: resources.map((r) => r.uri),
    templates: resourceTemplates.map((t) => t.uriTemplate),
    waiting_mime: waiting.mimeType,
    waiting_has_items: Array.isArray(waiting.body.items),
  };
}

async function followByEvents(client, updates, plan) {
  const started = await run(client, plan, 0);
  const uri = `kitaru://executions/${started.exec_id}`;
  await client.subscribeResource({ uri });
  const statuses = [];
  const finished = [];
  let view = (await readJson(client, uri)).body;
  let events = 0;
  for (;;) {
    statuses.push(view.status);
    finished.push(view.checkpoints.filter((c) => c.status === 'completed').length);
    if (view.status !== 'running') break;
    events = await updates.next(uri, events); // nothing but an update makes us read again
    view = (await readJson(client, uri)).body;
  }
  await client.unsubscribeResource({ uri });
  return { exec_id: started.exec_id, uri, events: updates.count(uri), statuses, finished,
    result: view.result ?? null };
}

async function progressOfRun(client, plan) {
  const progress = [];
  const started = await run(client, plan, WAIT_SECONDS, {
    onprogress: (p) => progress.push({ progress: p.progress, total: p.total ?? null,
      message: p.message ?? null }),
    resetTimeoutOnProgress: true,
  });
  return { exec_id: started.exec_id, status: started.status, progress,
    checkpoints: (started.execution?.checkpoints ?? []).map((c) => c.call_id) };
}

async function answerByElicitation(client, elicitations, plan) {
  const started = await run(client, plan, WAIT_SECONDS);
  const uri = `kitaru://executions/${started.exec_id}`;
  let view = (await readJson(client, uri)).body;
  const deadline = Date.now() + EVENT_TIMEOUT_MS;
  while (['running', 'waiting'].includes(view.status) && Date.now() < deadline) {
    if (view.status === 'waiting' && elicitations.length === 0) break; // nobody asked us
    await new Promise((resolve) => setTimeout(resolve, 500));
    view = (await readJson(client, uri)).body;
  }
  return { exec_id: started.exec_id, run_status: started.status, status: view.status,
    result: view.result ?? null, asked: elicitations };
}

async function main() {
  const [planFile, kind, ...rest] = process.argv.slice(2);
  const plan = JSON.parse(readFileSync(planFile, 'utf8'));
  const client = new Client(
    { name: 'kitaru-ts-live', version: '1.0.0' },
    { capabilities: { elicitation: { form: {} } } },
  );
  const updates = new Updates();
  client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => updates.push(n.params.uri));
  const elicitations = [];
  client.setRequestHandler(ElicitRequestSchema, async (request) => {
    elicitations.push({ message: request.params.message,
      schema: request.params.requestedSchema ?? null });
    return { action: 'accept', content: plan.elicit.answer };
  });
  await client.connect(transportFor(kind, rest));
  try {
    const report = { protocol: client.transport?.protocolVersion ?? null };
    report.listing = await listAndRead(client);
    report.follow = await followByEvents(client, updates, plan.follow);
    report.progress = await progressOfRun(client, plan.progress);
    report.elicit = await answerByElicitation(client, elicitations, plan.elicit);
    process.stdout.write(`${JSON.stringify(report)}\n`);
  } finally {
    await client.close();
  }
}

main().catch((err) => {
  process.stderr.write(`live.mjs: ${err?.stack ?? err}\n`);
  process.exit(1);
});
