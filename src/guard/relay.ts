// One guarded MCP session, whatever carries it: messages from the client
// (`downstream`) pass to the server (`upstream`) and back as the MCP SDK's
// transports parse and write them, except that a tools/list answer is
// filtered and a tools/call request is decided first (core.ts). The stdio
// guard runs one relay for its life; the HTTP gateway one per session.

import type { Transport, TransportSendOptions } from '@modelcontextprotocol/sdk/shared/transport.js'
import type { JSONRPCMessage, MessageExtraInfo } from '@modelcontextprotocol/sdk/types.js'
import type { GuardCore, Identity } from './core.js'
import { LostRequests, Renewed } from './upstream.js'

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
  /** The upstream went away first: what is in flight is its owner's to answer (failPending). */
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
  /** Answers every request still in flight with an error (the upstream is gone); resolves once the answers are handed to the client's transport. */
  failPending: (reason: string) => Promise<void>
  /**
   * Gives up on requests in flight (`ids`, or all of them): their answers can
   * go nowhere. The upstream is told (notifications/cancelled), so it can
   * stop the work, and a late answer is dropped.
   */
  cancel: (reason: string, ids?: readonly Id[]) => void
}

export function relay(core: GuardCore, downstream: Transport, upstream: Transport, options: RelayOptions): Relay {
  /** Client requests forwarded upstream and not yet answered, and of those the tools/list ones (their answers are filtered). */
  const pending = new Set<Id>()
  const lists = new Map<Id, MessageExtraInfo | undefined>()
  /** A progress token of a forwarded request, and its id: progress goes back on that request's stream. */
  const progress = new Map<string | number, Id>()
  let lastListed: unknown

  const toClient = (message: Message, sendOptions?: TransportSendOptions): Promise<void> =>
    downstream.send(message as JSONRPCMessage, sendOptions).catch(() => options.onDownstreamError())
  /** Stops following request `id`; false when it was not in flight. */
  const forget = (id: Id): boolean => {
    if (!pending.delete(id)) return false
    lists.delete(id)
    for (const [token, of] of progress) if (of === id) progress.delete(token)
    return true
  }
  /** Answers request `id`, if still in flight, with an error. */
  const fail = (id: Id, reason: string): Promise<void> | undefined => {
    if (!forget(id)) return undefined
    return toClient({ jsonrpc: '2.0', id, error: { code: INTERNAL_ERROR, message: reason } }, { relatedRequestId: id })
  }
  const toUpstream = (message: Message, extra: MessageExtraInfo | undefined, renewed: boolean): void =>
    void upstream.send(message as JSONRPCMessage).catch((e: unknown) => {
      // The upstream session was lost and a new one opened (an HTTP upstream that came back):
      // its tools may differ, so the client is told, and the message is decided and sent again.
      if (e instanceof Renewed && !renewed) {
        options.log('the upstream session was lost; a new one is open')
        core.toolsChanged()
        void toClient({ jsonrpc: '2.0', method: 'notifications/tools/list_changed' })
        const cancelled = message.id !== undefined && message.id !== null && !forget(message.id)
        return cancelled ? undefined : fromClient(message, extra, true)
      }
      if (message.id !== undefined && message.id !== null && message.method !== undefined) {
        void fail(message.id, `perso guard: could not reach the upstream server: ${e instanceof Error ? e.message : String(e)}`)
      }
    })

  const fromClient = (message: Message, extra: MessageExtraInfo | undefined, renewed = false): void => {
    const isRequest = message.method !== undefined && message.id !== undefined && message.id !== null
    if (!isRequest) return toUpstream(message, extra, renewed)
    const id = message.id as Id
    if (message.method === 'tools/call') {
      let call
      try {
        call = core.call(message.params, options.identity(extra), id)
      } catch (e) {
        // Any failure inside the guard is a denial: the call never reaches the upstream.
        return void toClient({ jsonrpc: '2.0', id, error: { code: INTERNAL_ERROR, message: `perso guard: ${e instanceof Error ? e.message : String(e)}` } })
      }
      if (!call.forward) return void toClient({ jsonrpc: '2.0', id, ...call.answer! })
    }
    if (message.method === 'tools/list') lists.set(id, extra)
    const token = (message.params as { _meta?: { progressToken?: unknown } } | undefined)?._meta?.progressToken
    if (typeof token === 'string' || typeof token === 'number') progress.set(token, id)
    pending.add(id)
    toUpstream(message, extra, renewed)
  }
  downstream.onmessage = (raw, extra) => fromClient(raw as Message, extra)
  // A message that is not JSON-RPC: the transport has dropped it; say so, with no id to answer.
  downstream.onerror = (error) => {
    options.log(`a message from the client could not be read: ${error.message}`)
    void toClient({ jsonrpc: '2.0', id: null, error: { code: PARSE_ERROR, message: `perso guard: not a JSON-RPC message: ${error.message}` } })
  }
  downstream.onclose = () => options.onDownstreamClose()

  upstream.onmessage = (raw) => {
    const message = raw as Message
    if (message.method === 'notifications/tools/list_changed') core.toolsChanged()
    const isResponse = message.method === undefined && message.id !== undefined && message.id !== null
    if (isResponse) {
      const id = message.id as Id
      const listing = lists.has(id)
      const extra = lists.get(id)
      // An answer to a request already answered with an error, or cancelled, goes nowhere.
      if (!forget(id)) return options.log(`a late answer from the upstream to request ${String(id)} was dropped`)
      if (listing && message.result !== undefined) {
        lastListed = message.result
        try {
          return void toClient({ ...message, result: core.filterList(message.result, options.identity(extra)) }, { relatedRequestId: id })
        } catch (e) {
          // Nothing is shown that cannot be shown to be allowed.
          return void toClient({ jsonrpc: '2.0', id, error: { code: INTERNAL_ERROR, message: `perso guard: could not filter the tool list: ${e instanceof Error ? e.message : String(e)}` } }, { relatedRequestId: id })
        }
      }
      return void toClient(message, { relatedRequestId: id })
    }
    const token = (message.params as { progressToken?: unknown } | undefined)?.progressToken
    const related = message.method === 'notifications/progress' && (typeof token === 'string' || typeof token === 'number') ? progress.get(token) : undefined
    void toClient(message, related === undefined ? undefined : { relatedRequestId: related })
  }
  upstream.onerror = (error) => {
    // The stream carrying these requests' answers broke (an HTTP upstream that went away mid-call).
    if (error instanceof LostRequests) for (const id of error.ids) void fail(id, `perso guard: the upstream server went away before answering (${error.message})`)
    options.log(`upstream: ${error.message}`)
  }
  upstream.onclose = () => options.onUpstreamClose()

  const failPending = async (reason: string): Promise<void> => {
    await Promise.all([...pending].map((id) => fail(id, reason)))
  }
  const cancel = (reason: string, ids: readonly Id[] = [...pending]): void => {
    for (const id of ids) {
      if (!forget(id)) continue
      toUpstream({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: id, reason } }, undefined, true)
    }
  }

  return { lastListed: () => lastListed, notify: (message) => void toClient(message), failPending, cancel }
}
