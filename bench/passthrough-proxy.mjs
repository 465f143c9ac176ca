// A stdio MCP proxy that decides nothing: every message passes through the MCP
// SDK's transports as it comes. The yardstick for perso guard's overhead.
import { StdioClientTransport, getDefaultEnvironment } from '@modelcontextprotocol/sdk/client/stdio.js'
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js'

const [command, ...args] = process.argv.slice(2)
const downstream = new StdioServerTransport()
const upstream = new StdioClientTransport({ command, args, env: { ...getDefaultEnvironment(), ...process.env }, stderr: 'inherit' })
downstream.onmessage = (m) => void upstream.send(m)
upstream.onmessage = (m) => void downstream.send(m)
downstream.onclose = () => void upstream.close()
upstream.onclose = () => process.exit(0)
await upstream.start()
await downstream.start()
