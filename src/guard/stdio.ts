// `perso guard … -- <command>` over stdio: the client talks to this process's
// stdin and stdout, the upstream server runs as a child. Every message passes
// through as the MCP SDK's transports parse and write it, except that a
// tools/list answer is filtered and a tools/call request is decided first
// (core.ts). Requests the upstream has not answered when it exits get an
// error, and the guard exits non-zero; when the client goes, the upstream is
// stopped.

import { StdioClientTransport, getDefaultEnvironment } from '@modelcontextprotocol/sdk/client/stdio.js'
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js'
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js'
import type { GuardCore, Identity } from './core.js'

type Id = string | number

/** A message's parts the guard looks at; everything else passes through untouched. */
interface Message {
  jsonrpc?: string
  id?: Id | null
  method?: string
  params?: unknown
  result?: unknown
  error?: unknown
}

export interface StdioGuardOptions {
  /** The caller's identity, for the whole session. */
  identity: Identity
  command: string
  args: string[]
  log: (line: string) => void
}

/** JSON-RPC error codes the guard answers with itself. */
const PARSE_ERROR = -32700
const INTERNAL_ERROR = -32603

/** Runs the proxy until either side goes; resolves with the exit code. */
export function runStdioGuard(core: GuardCore, options: StdioGuardOptions): Promise<number> {
  const downstream = new StdioServerTransport()
  const upstream = new StdioClientTransport({
    command: options.command,
    args: options.args,
    env: { ...getDefaultEnvironment(), ...(process.env as Record<string, string>) },
    stderr: 'inherit',
  })
  /** Client requests forwarded upstream and not yet answered: what gets an error if the upstream dies. */
  const pending = new Set<Id>()
  /** Of those, the tools/list requests: their answers are filtered. */
  const lists = new Set<Id>()
  let finished = false
  let exitStatus = 'no exit status'

  return new Promise<number>((resolve) => {
    const finish = (code: number): void => {
      if (finished) return
      finished = true
      for (const line of core.summary()) options.log(line)
      void Promise.allSettled([upstream.close(), downstream.close()]).then(() => resolve(code))
    }
    const toClient = (message: Message): void => void downstream.send(message as JSONRPCMessage).catch(() => finish(1))
    const toUpstream = (message: Message): void => void upstream.send(message as JSONRPCMessage).catch((e) => failRequest(message, e))
    const failRequest = (message: Message, e: unknown): void => {
      if (message.id === undefined || message.id === null || message.method === undefined) return
      pending.delete(message.id)
      lists.delete(message.id)
      toClient({ jsonrpc: '2.0', id: message.id, error: { code: INTERNAL_ERROR, message: `perso guard: could not reach the upstream server: ${e instanceof Error ? e.message : String(e)}` } })
    }

    downstream.onmessage = (raw) => {
      const message = raw as Message
      const isRequest = message.method !== undefined && message.id !== undefined && message.id !== null
      if (!isRequest) return toUpstream(message)
      const id = message.id as Id
      if (message.method === 'tools/call') {
        let call
        try {
          call = core.call(message.params, options.identity, id)
        } catch (e) {
          // Any failure inside the guard is a denial: the call never reaches the upstream.
          return toClient({ jsonrpc: '2.0', id, error: { code: INTERNAL_ERROR, message: `perso guard: ${e instanceof Error ? e.message : String(e)}` } })
        }
        if (!call.forward) return toClient({ jsonrpc: '2.0', id, ...call.answer! })
      }
      if (message.method === 'tools/list') lists.add(id)
      pending.add(id)
      toUpstream(message)
    }
    // A line that is not a JSON-RPC message: the transport has dropped it; say so, with no id to answer.
    downstream.onerror = (error) => {
      options.log(`a message from the client could not be read: ${error.message}`)
      toClient({ jsonrpc: '2.0', id: null, error: { code: PARSE_ERROR, message: `perso guard: not a JSON-RPC message: ${error.message}` } })
    }
    downstream.onclose = () => finish(0)

    upstream.onmessage = (raw) => {
      const message = raw as Message
      if (message.method === 'notifications/tools/list_changed') core.toolsChanged()
      const isResponse = message.method === undefined && message.id !== undefined && message.id !== null
      if (isResponse) {
        const id = message.id as Id
        pending.delete(id)
        if (lists.delete(id) && message.result !== undefined) {
          try {
            return toClient({ ...message, result: core.filterList(message.result, options.identity) })
          } catch (e) {
            // Nothing is shown that cannot be shown to be allowed.
            return toClient({ jsonrpc: '2.0', id, error: { code: INTERNAL_ERROR, message: `perso guard: could not filter the tool list: ${e instanceof Error ? e.message : String(e)}` } })
          }
        }
      }
      toClient(message)
    }
    upstream.onerror = (error) => options.log(`upstream: ${error.message}`)
    upstream.onclose = () => {
      if (finished) return
      for (const id of pending) toClient({ jsonrpc: '2.0', id, error: { code: INTERNAL_ERROR, message: 'perso guard: the upstream server exited before answering' } })
      pending.clear()
      options.log(`the upstream server \`${options.command}\` exited (${exitStatus})`)
      finish(1)
    }

    upstream.start().then(
      () => {
        // The transport forgets its child when it closes: note how it ended while it can be seen.
        const child = (upstream as unknown as { _process?: { once(event: 'exit', listener: (code: number | null, signal: string | null) => void): void } })._process
        child?.once('exit', (code, signal) => (exitStatus = code !== null ? `exit status ${code}` : `signal ${signal ?? 'unknown'}`))
        return downstream.start()
      },
      (e: unknown) => {
        options.log(`could not start the upstream server \`${options.command}\`: ${e instanceof Error ? e.message : String(e)}`)
        finish(1)
      },
    )
  })
}
