// A strict MCP client that is not ours: the official TypeScript SDK with its default validation.
//
//   node check.mjs CASES.json stdio COMMAND [ARG...]   spawn COMMAND (with this process's env)
//   node check.mjs CASES.json http URL                 bearer token from $KITARU_MCP_TOKEN
//
// CASES.json: [{"tool": ..., "arguments": {...}, "expect": "ok" | "error"}, ...], called in order.
// Prints one JSON report on stdout: {"tools": [listed names], "cases": [...]}, each case as
// {tool, expect, listed, ok, is_error, error_text, client_error, structured, ms}.
//
// Client.callTool validates a result's structuredContent against the tool's outputSchema with
// ajv + ajv-formats (date-time etc.) whenever structuredContent is present -- error results
// included -- and throws when a tool with an outputSchema succeeds without structuredContent.
// It only knows the schemas after listTools(), so tools are listed first.
import { readFileSync } from 'node:fs';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { transportFor } from './connect.mjs';

// A tool call may start a flow and follow it for a while; the SDK's default is 60 s.
const CALL_TIMEOUT_MS = 120_000;

// An isError result must carry the JSON error body as text: {"error": {"code", "message", ...}}.
function errorText(result) {
  const text = (result.content ?? []).filter((b) => b.type === 'text').map((b) => b.text).join('');
  try {
    const { code, message } = JSON.parse(text).error;
    return typeof code === 'string' && typeof message === 'string' && message
      ? `${code}: ${message}`
      : null;
  } catch {
    return null;
  }
}

async function runCase(client, listed, { tool, arguments: args = {}, expect }) {
  const report = { tool, expect, listed: listed.has(tool), ok: false, is_error: null,
    error_text: null, client_error: null, structured: null, ms: 0 };
  if (!report.listed) return report; // the test decides whether an unlisted tool matters
  const started = Date.now();
  try {
    const result = await client.callTool({ name: tool, arguments: args }, undefined,
      { timeout: CALL_TIMEOUT_MS });
    report.is_error = result.isError === true;
    report.structured = result.structuredContent ?? null;
    if (report.is_error) report.error_text = errorText(result);
    report.ok = expect === 'error'
      ? report.is_error && report.error_text !== null
      : !report.is_error && report.structured !== null;
  } catch (err) {
    report.client_error = String(err?.message ?? err);
  }
  report.ms = Date.now() - started;
  return report;
}

async function main() {
  const [casesFile, kind, ...rest] = process.argv.slice(2);
  const cases = JSON.parse(readFileSync(casesFile, 'utf8'));
  const client = new Client({ name: 'kitaru-ts-check', version: '1.0.0' });
  await client.connect(transportFor(kind, rest));
  try {
    const { tools } = await client.listTools();
    const listed = new Set(tools.map((t) => t.name));
    const reports = [];
    for (const c of cases) reports.push(await runCase(client, listed, c));
    process.stdout.write(`${JSON.stringify({ tools: [...listed], cases: reports })}\n`);
  } finally {
    await client.close();
  }
}

main().catch((err) => {
  process.stderr.write(`check.mjs: ${err?.stack ?? err}\n`);
  process.exit(1);
});
