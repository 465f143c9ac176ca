// The guard inside a TypeScript MCP server (`perso/mcp`): `guard(server,
// { policy, identity })` makes the server's tools/list show only the tools the
// caller may call and decides each tools/call before the server's own handler
// runs. It is the stdio proxy's code (core.ts) with the server's handlers
// where the proxy has its upstream: same decisions, deny shapes and audit.
//
// The MCP SDK (1.x) has no public hook that runs before a request handler, so
// the guard reaches the Protocol's table of handlers, `_requestHandlers`. It
// answers the handler for tools/list and tools/call itself, whenever and
// however they are registered (before or after guard(), replaced, removed, or
// left to `fallbackRequestHandler`). guard() throws when the table is not
// there: a server it cannot guard is never served unguarded.

import type { Perso } from '@perso/sdk'
import { GuardCore, type DenyAs, type Identity, type Mode } from './core.js'

export type { DenyAs, Identity, Mode }

/**
 * What the SDK gives a request handler besides the request (its
 * `RequestHandlerExtra`): `authInfo` from the transport, `sessionId`,
 * `requestId`, and more.
 */
export interface RequestExtra {
  authInfo?: unknown
  sessionId?: string
  requestId?: string | number
  [key: string]: unknown
}

export interface GuardOptions {
  /** The loaded artifact (`await Perso.load('policy.wasm', { audit })`): the only authority, and the audit. */
  policy: Perso
  /**
   * The caller of one request, from what the server knows about it —
   * typically `extra.authInfo` — never from the model or the arguments. A
   * caller without a string role is shown no tools and denied every call,
   * as is one whose identity cannot be found (the function throws).
   */
  identity: (extra: RequestExtra) => Identity | Promise<Identity>
  /** `shadow` decides and audits every call but lets everything through. Default `enforce`. */
  mode?: Mode
  /** A denied call answers a tool result with `isError` (default), or a JSON-RPC error. */
  denyAs?: DenyAs
  /** Where the guard's own lines go (which tools a role cannot see, shadow mode's would-denies). Default: nowhere. */
  log?: (line: string) => void
}

interface Request {
  method: string
  params?: unknown
}
type Handler = (request: Request, extra: RequestExtra) => Promise<unknown>

/** The part of the SDK's Protocol the guard reaches. */
interface Handlers {
  _requestHandlers: Map<string, Handler>
  fallbackRequestHandler?: Handler
}

const METHOD_NOT_FOUND = -32601

/** The Protocol under `server`: the low-level Server itself, or an McpServer's `server`. */
function protocolOf(server: object): Handlers {
  const inner = (server as { server?: unknown }).server
  const target = (typeof inner === 'object' && inner !== null ? inner : server) as Partial<Handlers>
  if (!(target._requestHandlers instanceof Map)) {
    throw new TypeError('perso: guard() takes a Server or an McpServer from @modelcontextprotocol/sdk 1.x (it found no request handlers to guard)')
  }
  return target as Handlers
}

/** An error the SDK sends as a JSON-RPC error with exactly this code, message and data. */
function rpcError(code: number, message: string, data?: unknown): Error {
  return Object.assign(new Error(message), { code, data })
}

/**
 * Guards `server` (a low-level `Server` or an `McpServer`, with its tools
 * registered before or after this call) with `options.policy`, and answers
 * the same server.
 */
export function guard<S extends object>(server: S, options: GuardOptions): S {
  const protocol = protocolOf(server)
  const handlers = protocol._requestHandlers
  const tableGet = handlers.get.bind(handlers)
  const core = new GuardCore({ policy: { current: options.policy }, mode: options.mode ?? 'enforce', denyAs: options.denyAs ?? 'result', log: options.log ?? (() => {}) })

  const identityOf = async (extra: RequestExtra): Promise<Identity | undefined> => {
    try {
      const identity = await options.identity(extra)
      return typeof identity?.role === 'string' ? identity : undefined
    } catch {
      return undefined
    }
  }
  /** The server's own handler for `method`, as the Protocol would pick it. */
  const own = (method: string): Handler => {
    const handler = tableGet(method) ?? protocol.fallbackRequestHandler
    if (handler === undefined) return async () => Promise.reject(rpcError(METHOD_NOT_FOUND, 'Method not found'))
    return handler
  }

  const list: Handler = async (request, extra) => {
    const result = await own('tools/list')(request, extra)
    return core.filterList(result, await identityOf(extra))
  }
  const call: Handler = async (request, extra) => {
    const identity = await identityOf(extra)
    const requestId = extra.requestId ?? ''
    const verdict = core.call(request.params, identity, requestId)
    if (verdict.forward) return own('tools/call')(request, extra)
    const answer = verdict.answer!
    if ('error' in answer) throw rpcError(answer.error.code, answer.error.message, answer.error.data)
    return answer.result
  }

  // The Protocol looks a request's handler up with `get`: for the two methods
  // the guard decides, it always finds the guard, which then asks the table.
  Object.defineProperty(handlers, 'get', {
    value: (method: string): Handler | undefined => (method === 'tools/list' ? list : method === 'tools/call' ? call : tableGet(method)),
  })
  return server
}
