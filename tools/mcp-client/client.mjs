// Drives an MCP server with the official TypeScript SDK client and prints
// what happened as one JSON object, for the specs (spec/serve/1*-mcp_*).
//
//   node client.mjs PLAN.json
//
// PLAN: {
//   transport: "stdio" | "http",
//   command, args, env, cwd            (stdio: the server process to spawn)
//   url, headers                       (http: the /mcp endpoint, extra request headers)
//   steps: [ {op: "list"} | {op: "call", name, arguments} | {op: "ping"}
//          | {op: "terminate"} (http: DELETE the session) ]
// }
// Output: {protocolVersion, serverInfo, instructions, capabilities, sessionId,
//          steps: [{ok: true, result} | {ok: false, error: {name, code, message}}]}
// A failed connect prints {connectError} and exits 1. Works on Node >= 18.
import { readFileSync } from 'node:fs'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'

const plan = JSON.parse(readFileSync(process.argv[2], 'utf8'))

function makeTransport () {
  if (plan.transport === 'stdio') {
    return new StdioClientTransport({
      command: plan.command,
      args: plan.args || [],
      env: { ...process.env, ...(plan.env || {}) },
      cwd: plan.cwd,
      stderr: 'inherit'
    })
  }
  if (plan.transport === 'http') {
    return new StreamableHTTPClientTransport(new URL(plan.url), {
      requestInit: { headers: plan.headers || {} }
    })
  }
  throw new Error(`unknown transport ${plan.transport}`)
}

function describe (err) {
  return { name: err?.constructor?.name, code: err?.code, message: String(err?.message ?? err) }
}

const transport = makeTransport()
// The client hands the negotiated version to transports that take it; catch it there.
let negotiated
const setVersion = transport.setProtocolVersion?.bind(transport)
transport.setProtocolVersion = (v) => { negotiated = v; setVersion?.(v) }
const client = new Client({ name: 'astrocyte-spec-client', version: '0.1.0' })
const out = { steps: [] }
try {
  await client.connect(transport)
} catch (err) {
  console.log(JSON.stringify({ connectError: describe(err) }))
  process.exit(1)
}
out.protocolVersion = negotiated
out.serverInfo = client.getServerVersion()
out.capabilities = client.getServerCapabilities()
out.instructions = client.getInstructions()
out.sessionId = transport.sessionId

for (const step of plan.steps || []) {
  try {
    let result
    if (step.op === 'list') result = await client.listTools()
    else if (step.op === 'call') result = await client.callTool({ name: step.name, arguments: step.arguments || {} })
    else if (step.op === 'ping') result = await client.ping()
    else if (step.op === 'terminate') { await transport.terminateSession(); result = { sessionId: transport.sessionId ?? null } }
    else throw new Error(`unknown op ${step.op}`)
    out.steps.push({ ok: true, result })
  } catch (err) {
    out.steps.push({ ok: false, error: describe(err) })
  }
}
await client.close()
console.log(JSON.stringify(out))
