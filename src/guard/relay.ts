// One guarded MCP session, whatever carries it: messages from the client
// (`downstream`) pass to the server (`upstream`) and back as the MCP SDK's
// transports parse and write them, except that a tools/list answer is
// filtered and a tools/call request is decided first (core.ts). The stdio
// guard runs one relay for its life; the HTTP gateway one per session.

import type { Transport, TransportSendOptions } from '@modelcontextprotocol/sdk/shared/transport.js'
import type { JSONRPCMessage, MessageExtraInfo } from '@modelcontextprotocol/sdk/types.js'
import type { GuardCore, Identity } from './core.js'

type Id = string | number

/** A message's parts the guard looks at; everything else passes through untouched. */
export interface Message {
  jsonrpc?: string
  id?: Id | null
  method?: string
  params?: unknown
  result?: unknown
  error?: unknown
}

/** JSON-RPC error codes the guard answers with itself. */
export const PARSE_ERROR = -32700
export const INTERNAL_ERROR = -32603

export interface RelayOptions {
  /** The caller of one client message: fixed for the stdio guard, the verified token's for HTTP (undefined: denied). */
  identity: (extra: MessageExtraInfo | undefined) => Identity | undefined
  log: (line: string) => void
  /** The upstream went away first; the relay has answered what it had in flight. */
  onUpstreamClose: () => void
  /** The client went away first. */
  onDownstreamClose: () => void
  /** Sending to the client failed: the session cannot go on. */
  onDownstreamError: () => void
}

/** A running relay, as its owner (the stdio guard, a gateway session) reaches it. */
export interface Relay {
  /** The result of the latest tools/list the upstream answered this session, for a reload to compare with. */
  lastListed: () => unknown
  /** Sends a message the guard itself makes (a notification) to the client. */
  notify: (message: Message) => void
  /** Answers every request still in flight with an error (the upstream is gone). */
  failPending: (reason: string) => void
}

export function relay(core: GuardCore, downstream: Transport, upstream: Transport, options: RelayOptions): Relay {
  /** Client requests forwarded upstream and not yet answered, and of those the tools/list ones (their answers are filtered). */
  const pending = new Set<Id>()
  const lists = new Map<Id, MessageExtraInfo | undefined>()
  /** A progress token of a forwarded request, and its id: progress goes back on that request's stream. */
  const progress = new Map<string | number, Id>()
  let lastListed: unknown

  const toClient = (message: Message, sendOptions?: TransportSendOptions): void =>
    void downstream.send(message as JSONRPCMessage, sendOptions).catch(() => options.onDownstreamError())
  const failRequest = (message: Message, e: unknown): void => {
    if (message.id === undefined || message.id === null || message.method === undefined) return
    pending.delete(message.id)
    lists.delete(message.id)
    toClient({ jsonrpc: '2.0', id: message.id, error: { code: INTERNAL_ERROR, message: `perso guard: could not reach the upstream server: ${e instanceof Error ? e.message : String(e)}` } })
  }
  const toUpstream = (message: Message): void => void upstream.send(message as JSONRPCMessage).catch((e) => failRequest(message, e))

  downstream.onmessage = (raw, extra) => {
    const message = raw as Message
    const isRequest = message.method !== undefined && message.id !== undefined && message.id !== null
    if (!isRequest) return toUpstream(message)
    const id = message.id as Id
    if (message.method === 'tools/call') {
      let call
      try {
        call = core.call(message.params, options.identity(extra), id)
      } catch (e) {
        // Any failure inside the guard is a denial: the call never reaches the upstream.
        return toClient({ jsonrpc: '2.0', id, error: { code: INTERNAL_ERROR, message: `perso guard: ${e instanceof Error ? e.message : String(e)}` } })
      }
      if (!call.forward) return toClient({ jsonrpc: '2.0', id, ...call.answer! })
    }
    if (message.method === 'tools/list') lists.set(id, extra)
    const token = (message.params as { _meta?: { progressToken?: unknown } } | undefined)?._meta?.progressToken
    if (typeof token === 'string' || typeof token === 'number') progress.set(token, id)
    pending.add(id)
    toUpstream(message)
  }
  // A message that is not JSON-RPC: the transport has dropped it; say so, with no id to answer.
  downstream.onerror = (error) => {
    options.log(`a message from the client could not be read: ${error.message}`)
    toClient({ jsonrpc: '2.0', id: null, error: { code: PARSE_ERROR, message: `perso guard: not a JSON-RPC message: ${error.message}` } })
  }
  downstream.onclose = () => options.onDownstreamClose()

  upstream.onmessage = (raw) => {
    const message = raw as Message
    if (message.method === 'notifications/tools/list_changed') core.toolsChanged()
    const isResponse = message.method === undefined && message.id !== undefined && message.id !== null
    if (isResponse) {
      const id = message.id as Id
      pending.delete(id)
      for (const [token, of] of progress) if (of === id) progress.delete(token)
      if (lists.has(id) && message.result !== undefined) {
        const extra = lists.get(id)
        lists.delete(id)
        lastListed = message.result
        try {
          return toClient({ ...message, result: core.filterList(message.result, options.identity(extra)) }, { relatedRequestId: id })
        } catch (e) {
          // Nothing is shown that cannot be shown to be allowed.
          return toClient({ jsonrpc: '2.0', id, error: { code: INTERNAL_ERROR, message: `perso guard: could not filter the tool list: ${e instanceof Error ? e.message : String(e)}` } }, { relatedRequestId: id })
        }
      }
      lists.delete(id)
      return toClient(message, { relatedRequestId: id })
    }
    const token = (message.params as { progressToken?: unknown } | undefined)?.progressToken
    const related = message.method === 'notifications/progress' && (typeof token === 'string' || typeof token === 'number') ? progress.get(token) : undefined
    toClient(message, related === undefined ? undefined : { relatedRequestId: related })
  }
  upstream.onerror = (error) => options.log(`upstream: ${error.message}`)

  const failPending = (reason: string): void => {
    for (const id of pending) toClient({ jsonrpc: '2.0', id, error: { code: INTERNAL_ERROR, message: reason } }, { relatedRequestId: id })
    pending.clear()
    lists.clear()
  }
  upstream.onclose = () => options.onUpstreamClose()

  return { lastListed: () => lastListed, notify: (message) => toClient(message), failPending }
}
