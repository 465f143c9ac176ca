// An MCP server for the guard's tests: offers the tools named in PERSO_TEST_TOOLS
// (a JSON list), answers every call with its arguments, and appends each call it
// receives to PERSO_TEST_RECORD (one JSON line), so a test can see exactly what
// reached the upstream.
import { appendFileSync } from 'node:fs'
import { Server } from '@modelcontextprotocol/sdk/server/index.js'
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js'
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js'

const tools = JSON.parse(process.env.PERSO_TEST_TOOLS ?? '[]')
const record = process.env.PERSO_TEST_RECORD
const server = new Server({ name: 'recording', version: '1.0.0' }, { capabilities: { tools: {} } })
server.setRequestHandler(ListToolsRequestSchema, () => ({
  tools: tools.map((name) => ({ name, description: `records ${name}`, inputSchema: { type: 'object' } })),
}))
server.setRequestHandler(CallToolRequestSchema, (request) => {
  if (record) appendFileSync(record, JSON.stringify({ name: request.params.name, arguments: request.params.arguments ?? null }) + '\n')
  return { content: [{ type: 'text', text: `called ${request.params.name}` }] }
})
await server.connect(new StdioServerTransport())
