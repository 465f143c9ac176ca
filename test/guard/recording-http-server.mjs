// An MCP server over Streamable HTTP for the gateway's tests: offers the tools
// named in PERSO_TEST_TOOLS, answers every call with its name, and appends to
// PERSO_TEST_RECORD one JSON line per HTTP request it receives (its method,
// the Authorization header if any, the custom x-upstream-key header, and the
// JSON-RPC method and tool), so a test sees exactly what reached the upstream.
// Listens on 127.0.0.1 at PERSO_TEST_PORT (an ephemeral port by default; a
// test restarts it on the same one) and prints `listening <port>`. A request
// on a session it does not know is 404, as the transport spec says. With
// PERSO_TEST_FAULTS set, `slow` answers after `arguments.ms` (1500) and
// `crash` kills this process mid-call, after `arguments.ms` (0).
import { appendFileSync } from 'node:fs'
import { randomUUID } from 'node:crypto'
import { createServer } from 'node:http'
import { Server } from '@modelcontextprotocol/sdk/server/index.js'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js'

const tools = JSON.parse(process.env.PERSO_TEST_TOOLS ?? '[]')
const record = process.env.PERSO_TEST_RECORD
const sessions = new Map()
const faults = process.env.PERSO_TEST_FAULTS !== undefined

function mcpServer() {
  const server = new Server({ name: 'recording-http', version: '1.0.0' }, { capabilities: { tools: {} } })
  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: tools.map((name) => ({ name, inputSchema: { type: 'object' } })) }))
  server.setRequestHandler(CallToolRequestSchema, async (request) => {
    if (faults && request.params.name === 'crash') {
      setTimeout(() => process.kill(process.pid, 'SIGKILL'), request.params.arguments?.ms ?? 0)
      await new Promise(() => {})
    }
    if (faults && request.params.name === 'slow') await new Promise((resolve) => setTimeout(resolve, request.params.arguments?.ms ?? 1500))
    return { content: [{ type: 'text', text: `called ${request.params.name}` }] }
  })
  return server
}

const http = createServer(async (req, res) => {
  const chunks = []
  for await (const chunk of req) chunks.push(chunk)
  const text = Buffer.concat(chunks).toString('utf8')
  const body = text === '' ? undefined : JSON.parse(text)
  if (record) {
    appendFileSync(record, JSON.stringify({
      http: req.method,
      authorization: req.headers.authorization ?? null,
      key: req.headers['x-upstream-key'] ?? null,
      rpc: body?.method ?? null,
      tool: body?.params?.name ?? null,
      nonce: body?.params?.arguments?.nonce ?? null,
    }) + '\n')
  }
  const id = req.headers['mcp-session-id']
  let transport = typeof id === 'string' ? sessions.get(id) : undefined
  if (typeof id === 'string' && transport === undefined) {
    res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32001, message: 'Session not found' } }))
    return
  }
  if (transport === undefined) {
    transport = new StreamableHTTPServerTransport({ sessionIdGenerator: () => randomUUID(), onsessioninitialized: (sid) => sessions.set(sid, transport), onsessionclosed: (sid) => sessions.delete(sid) })
    await mcpServer().connect(transport)
  }
  await transport.handleRequest(req, res, body)
})
http.listen(Number(process.env.PERSO_TEST_PORT ?? 0), '127.0.0.1', () => console.log(`listening ${http.address().port}`))
