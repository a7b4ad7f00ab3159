// How check.mjs and live.mjs reach kitaru-mcp: the transport named on their command line.
//
//   stdio COMMAND [ARG...]   spawn COMMAND (with this process's env)
//   http URL                 streamable HTTP, bearer token from $KITARU_MCP_TOKEN
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

export function transportFor(kind, rest) {
  if (kind === 'stdio') {
    const [command, ...args] = rest;
    // The SDK passes only a few "safe" variables by default; the server needs all of ours
    // (KITARU_CONFIG_PATH above all). Its stderr stays ours, for the test's failure output.
    return new StdioClientTransport({ command, args, env: { ...process.env }, stderr: 'inherit' });
  }
  if (kind === 'http') {
    const headers = { Authorization: `Bearer ${process.env.KITARU_MCP_TOKEN ?? ''}` };
    return new StreamableHTTPClientTransport(new URL(rest[0]), { requestInit: { headers } });
  }
  throw new Error(`unknown transport ${kind}: use stdio or http`);
}
