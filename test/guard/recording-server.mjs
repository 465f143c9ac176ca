// An MCP server for the guard's tests: offers the tools in PERSO_TEST_TOOLS (a
// JSON list of names, or of whole tool definitions), answers every call with
// its arguments, and appends each call it receives to PERSO_TEST_RECORD (one
// JSON line), so a test can see exactly what reached the upstream. A call to
// `change_tools` switches to the tools in PERSO_TEST_CHANGED and says so with
// notifications/tools/list_changed (a server changing its tools mid-session).
import { appendFileSync } from 'node:fs'
import { Server } from '@modelcontextprotocol/sdk/server/index.js'
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js'
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js'

const definitions = (list) => list.map((tool) => (typeof tool === 'string' ? { name: tool, description: `records ${tool}`, inputSchema: { type: 'object' } } : tool))
let tools = definitions(JSON.parse(process.env.PERSO_TEST_TOOLS ?? '[]'))
const record = process.env.PERSO_TEST_RECORD
const server = new Server({ name: 'recording', version: '1.0.0' }, { capabilities: { tools: { listChanged: true } } })
server.setRequestHandler(ListToolsRequestSchema, () => ({ tools }))
server.setRequestHandler(CallToolRequestSchema, async (request) => {
  if (record) appendFileSync(record, JSON.stringify({ name: request.params.name, arguments: request.params.arguments ?? null }) + '\n')
  if (request.params.name === 'change_tools') {
    tools = definitions(JSON.parse(process.env.PERSO_TEST_CHANGED ?? '[]'))
    await server.sendToolListChanged()
  }
  return { content: [{ type: 'text', text: `called ${request.params.name}` }] }
})
await server.connect(new StdioServerTransport())
