// An MCP server for the guard's tests: offers the tools in PERSO_TEST_TOOLS (a
// JSON list of names, or of whole tool definitions), answers every call with
// its arguments, and appends each call it receives to PERSO_TEST_RECORD (one
// JSON line), so a test can see exactly what reached the upstream. A call to
// `change_tools` switches to the tools in PERSO_TEST_CHANGED and says so with
// notifications/tools/list_changed (a server changing its tools mid-session).
// With PERSO_TEST_FAULTS set, three calls misbehave for the fault tests: `slow`
// answers after `arguments.ms` (1500) and records `cancelled` if the guard
// cancels it first, `crash` kills this process mid-call, `pid` answers its pid.
import { appendFileSync } from 'node:fs'
import { Server } from '@modelcontextprotocol/sdk/server/index.js'
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js'
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js'

const definitions = (list) => list.map((tool) => (typeof tool === 'string' ? { name: tool, description: `records ${tool}`, inputSchema: { type: 'object' } } : tool))
let tools = definitions(JSON.parse(process.env.PERSO_TEST_TOOLS ?? '[]'))
const record = process.env.PERSO_TEST_RECORD
const server = new Server({ name: 'recording', version: '1.0.0' }, { capabilities: { tools: { listChanged: true } } })
server.setRequestHandler(ListToolsRequestSchema, () => ({ tools }))
const faults = process.env.PERSO_TEST_FAULTS !== undefined
server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
  if (record) appendFileSync(record, JSON.stringify({ name: request.params.name, arguments: request.params.arguments ?? null }) + '\n')
  if (faults && request.params.name === 'crash') process.kill(process.pid, 'SIGKILL')
  if (faults && request.params.name === 'pid') return { content: [{ type: 'text', text: String(process.pid) }] }
  if (faults && request.params.name === 'slow') {
    await new Promise((resolve) => {
      const timer = setTimeout(resolve, request.params.arguments?.ms ?? 1500)
      extra.signal.addEventListener('abort', () => {
        clearTimeout(timer)
        if (record) appendFileSync(record, JSON.stringify({ name: 'slow', cancelled: true, pid: process.pid, reason: String(extra.signal.reason) }) + '\n')
        resolve()
      })
    })
  }
  if (request.params.name === 'change_tools') {
    tools = definitions(JSON.parse(process.env.PERSO_TEST_CHANGED ?? '[]'))
    await server.sendToolListChanged()
  }
  return { content: [{ type: 'text', text: `called ${request.params.name}` }] }
})
await server.connect(new StdioServerTransport())
