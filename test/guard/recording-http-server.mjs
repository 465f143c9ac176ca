// An MCP server over Streamable HTTP for the gateway's tests: offers the tools
// named in PERSO_TEST_TOOLS, answers every call with its name, and appends to
// PERSO_TEST_RECORD one JSON line per HTTP request it receives (its method,
// the Authorization header if any, the custom x-upstream-key header, and the
// JSON-RPC method and tool), so a test sees exactly what reached the upstream.
// Listens on 127.0.0.1 at an ephemeral port and prints `listening <port>`.
import { appendFileSync } from 'node:fs'
import { randomUUID } from 'node:crypto'
import { createServer } from 'node:http'
import { Server } from '@modelcontextprotocol/sdk/server/index.js'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js'

const tools = JSON.parse(process.env.PERSO_TEST_TOOLS ?? '[]')
const record = process.env.PERSO_TEST_RECORD
const sessions = new Map()

function mcpServer() {
  const server = new Server({ name: 'recording-http', version: '1.0.0' }, { capabilities: { tools: {} } })
  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: tools.map((name) => ({ name, inputSchema: { type: 'object' } })) }))
  server.setRequestHandler(CallToolRequestSchema, (request) => ({ content: [{ type: 'text', text: `called ${request.params.name}` }] }))
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
  if (transport === undefined) {
    transport = new StreamableHTTPServerTransport({ sessionIdGenerator: () => randomUUID(), onsessioninitialized: (sid) => sessions.set(sid, transport) })
    await mcpServer().connect(transport)
  }
  await transport.handleRequest(req, res, body)
})
http.listen(0, '127.0.0.1', () => console.log(`listening ${http.address().port}`))
