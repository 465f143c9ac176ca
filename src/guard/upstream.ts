// The upstream MCP server a guarded session talks to: a child process over
// stdio, or a server reached over Streamable HTTP. The client's own
// credentials never travel here: an HTTP upstream gets only the headers the
// guard was started with.

import { StdioClientTransport, getDefaultEnvironment } from '@modelcontextprotocol/sdk/client/stdio.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js'

export interface Upstream {
  transport: Transport
  /** How a child ended (`exit status 3`, `signal SIGKILL`), for the guard's message; a URL upstream has none. */
  exitStatus: () => string
}

/** A child process speaking MCP over stdio; its stderr is the guard's. */
export function childUpstream(command: string, args: string[]): Upstream {
  const transport = new StdioClientTransport({
    command,
    args,
    env: { ...getDefaultEnvironment(), ...(process.env as Record<string, string>) },
    stderr: 'inherit',
  })
  let status = 'no exit status'
  const start = transport.start.bind(transport)
  transport.start = async () => {
    await start()
    // The transport forgets its child when it closes: note how it ended while it can be seen.
    const child = (transport as unknown as { _process?: { once(event: 'exit', listener: (code: number | null, signal: string | null) => void): void } })._process
    child?.once('exit', (code, signal) => (status = code !== null ? `exit status ${code}` : `signal ${signal ?? 'unknown'}`))
  }
  return { transport, exitStatus: () => status }
}

/**
 * A server over Streamable HTTP, with the guard's own `headers` (never the
 * client's). Once the session's initialize is answered, its protocol version
 * goes with every request, as the transport expects of its client; closing
 * ends the upstream session (DELETE) too.
 */
export function httpUpstream(url: URL, headers: Record<string, string>): Upstream {
  const inner = new StreamableHTTPClientTransport(url, { requestInit: { headers } })
  const transport: Transport = {
    start: () => inner.start(),
    send: (message, options) => inner.send(message, options),
    close: async () => {
      await inner.terminateSession().catch(() => {})
      await inner.close()
    },
  }
  inner.onmessage = (message) => {
    const version = (message as { result?: { protocolVersion?: unknown } }).result?.protocolVersion
    if (typeof version === 'string' && inner.protocolVersion === undefined) inner.setProtocolVersion(version)
    transport.onmessage?.(message)
  }
  inner.onerror = (error) => transport.onerror?.(error)
  inner.onclose = () => transport.onclose?.()
  return { transport, exitStatus: () => 'its connection closed' }
}
