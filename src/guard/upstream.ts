// The upstream MCP server a guarded session talks to: a child process over
// stdio, or a server reached over Streamable HTTP. The client's own
// credentials never travel here: an HTTP upstream gets only the headers the
// guard was started with.

import { constants } from 'node:fs'
import { access, stat } from 'node:fs/promises'
import { delimiter, join, resolve } from 'node:path'
import { StdioClientTransport, getDefaultEnvironment } from '@modelcontextprotocol/sdk/client/stdio.js'
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js'
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js'

export interface Upstream {
  transport: Transport
  /** How a child ended (`exit status 3`, `signal SIGKILL`), for the guard's message; a URL upstream has none. */
  exitStatus: () => string
}

/** What /healthz says of the upstream: whether a new session could have one now, and why not. */
export interface UpstreamHealth {
  ok: boolean
  /** A URL upstream: the HTTP status it answered (any status: it is there). */
  status?: number
  error?: string
}

/** How long /healthz waits for a URL upstream. */
export const PROBE_TIMEOUT_MS = 2000

/**
 * Whether a URL upstream answers HTTP at all: a HEAD request with the
 * guard's own `headers`, that any status answers. Refused, unresolvable or
 * silent for `timeoutMs` is unreachable. The reason names the error, not the
 * address.
 */
export async function probeUrl(url: URL, headers: Record<string, string>, timeoutMs = PROBE_TIMEOUT_MS): Promise<UpstreamHealth> {
  try {
    const response = await fetch(url, { method: 'HEAD', headers, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) })
    await response.body?.cancel()
    return { ok: true, status: response.status }
  } catch (e) {
    const cause = (e as { cause?: { code?: unknown } }).cause
    const why = e instanceof Error && e.name === 'TimeoutError' ? `no answer within ${timeoutMs / 1000} s` : typeof cause?.code === 'string' ? cause.code : e instanceof Error ? e.message : String(e)
    return { ok: false, error: `the upstream cannot be reached: ${why}` }
  }
}

/**
 * Whether a child upstream can be started: its command resolves to an
 * executable file (a path as given, or a name on PATH), as it must for every
 * new session's child. It says nothing of whether the server then runs.
 */
export async function probeCommand(command: string, path = process.env.PATH ?? ''): Promise<UpstreamHealth> {
  const candidates = command.includes('/') ? [resolve(command)] : path.split(delimiter).filter(Boolean).map((dir) => join(dir, command))
  for (const candidate of candidates) {
    try {
      await access(candidate, constants.X_OK)
      if ((await stat(candidate)).isFile()) return { ok: true }
    } catch {
      // Not this one.
    }
  }
  return { ok: false, error: `the upstream command is not an executable file${command.includes('/') ? '' : ' on PATH'}` }
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
 * Thrown by an HTTP upstream's send when the upstream no longer knew the
 * session (404) and a new one has been opened in its place: the message was
 * not sent, and the relay decides it again and sends it on the new session.
 */
export class Renewed extends Error {
  constructor() {
    super('the upstream session was renewed')
  }
}

/** Said through an upstream's onerror: the stream carrying these requests' answers broke, and they will get none. */
export class LostRequests extends Error {
  constructor(
    readonly ids: readonly (string | number)[],
    cause: unknown,
  ) {
    super(`the stream of request ${ids.join(', ')} broke: ${cause instanceof Error ? cause.message : String(cause)}`)
  }
}

/** How long a new upstream session may take to answer its initialize. */
const INITIALIZE_TIMEOUT_MS = 10_000

/**
 * A server over Streamable HTTP, with the guard's own `headers` (never the
 * client's). Once the session's initialize is answered, its protocol version
 * goes with every request, as the transport expects of its client; closing
 * ends the upstream session (DELETE) too.
 *
 * Faults: a request whose answer stream breaks (the server went away
 * mid-call) is reported lost at once (LostRequests), whether or not the
 * server could have resumed it. A server that answers 404 no longer has the
 * session (it restarted, or ended it): the client's initialize is sent again
 * on a new session and the message that met the 404 is thrown back
 * (Renewed), so each session survives its upstream restarting.
 */
export function httpUpstream(url: URL, headers: Record<string, string>): Upstream {
  /** The client's initialize and initialized, as first sent: what a new upstream session is opened with. */
  let initialize: JSONRPCMessage | undefined
  let initialized: JSONRPCMessage | undefined
  let renewals = 0
  /** The client transport whose session the server forgot, until a new one replaces it. */
  let lost: StreamableHTTPClientTransport | undefined
  let renewing: Promise<void> | undefined
  let closed = false

  const transport: Transport = {
    start: () => inner.start(),
    send: async (message, options) => {
      const used = inner
      const method = (message as { method?: string }).method
      if (method === 'initialize') initialize ??= message
      if (method === 'notifications/initialized') initialized ??= message
      if (used !== lost) {
        try {
          return await used.send(message, options)
        } catch (e) {
          if (!(e instanceof StreamableHTTPError && e.code === 404) || initialize === undefined || method === 'initialize' || closed) throw e
          lost = used
        }
      }
      // Every send that meets the lost session waits for one renewal; if it fails, the next send tries again.
      renewing ??= renew().finally(() => (renewing = undefined))
      await renewing
      throw new Renewed()
    },
    close: async () => {
      closed = true
      await inner.terminateSession().catch(() => {})
      await inner.close()
    },
  }

  /** A client transport to `url` whose answer streams report their requests lost when they break. */
  const open = (): StreamableHTTPClientTransport => {
    const watching = async (input: string | URL, init?: RequestInit): Promise<Response> => {
      const response = await fetch(input, init)
      const ids = requestIdsInText(init?.body)
      if (response.body === null || ids.length === 0 || !response.headers.get('content-type')?.startsWith('text/event-stream')) return response
      const reader = response.body.getReader()
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          try {
            const { done, value } = await reader.read()
            if (done) controller.close()
            else controller.enqueue(value)
          } catch (e) {
            controller.error(e)
            // After the transport has read what came before the break.
            if (!closed) setImmediate(() => transport.onerror?.(new LostRequests(ids, e)))
          }
        },
        cancel: (reason) => reader.cancel(reason),
      })
      return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers })
    }
    const client = new StreamableHTTPClientTransport(url, { requestInit: { headers }, fetch: watching })
    client.onmessage = (message) => {
      const version = (message as { result?: { protocolVersion?: unknown } }).result?.protocolVersion
      if (typeof version === 'string' && client.protocolVersion === undefined) client.setProtocolVersion(version)
      transport.onmessage?.(message)
    }
    client.onerror = (error) => transport.onerror?.(error)
    client.onclose = () => transport.onclose?.()
    return client
  }
  let inner = open()

  /** Opens a new upstream session with the client's initialize, and makes it the one used. */
  const renew = async (): Promise<void> => {
    const next = open()
    const id = `perso-guard-renew-${++renewals}`
    let timer: NodeJS.Timeout | undefined
    const answered = new Promise<void>((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`the upstream did not answer initialize within ${INITIALIZE_TIMEOUT_MS / 1000} s`)), INITIALIZE_TIMEOUT_MS)
      const relay = next.onmessage
      next.onmessage = (message) => {
        if ((message as { id?: unknown }).id !== id) return
        clearTimeout(timer)
        next.onmessage = relay
        const answer = message as { result?: { protocolVersion?: unknown }; error?: { message?: string } }
        if (typeof answer.result?.protocolVersion === 'string') next.setProtocolVersion(answer.result.protocolVersion)
        if (answer.error !== undefined) reject(new Error(`the upstream refused initialize: ${answer.error.message ?? 'no reason given'}`))
        else resolve()
      }
    })
    // Handled below, or never awaited when sending fails first.
    answered.catch(() => {})
    try {
      await next.start()
      await next.send({ ...(initialize as object), id } as JSONRPCMessage)
      await answered
      if (initialized !== undefined) await next.send(initialized)
    } catch (e) {
      clearTimeout(timer)
      next.onmessage = next.onerror = next.onclose = undefined
      await next.close()
      throw e
    }
    // The old session's streams and their reconnection attempts stop: the server has forgotten it.
    const previous = inner
    previous.onmessage = previous.onerror = previous.onclose = undefined
    await previous.close()
    inner = next
    // Closed meanwhile: the new session ends as the old one would have.
    if (closed) await transport.close()
  }

  return { transport, exitStatus: () => 'its connection closed' }
}

/** The ids of the JSON-RPC requests among `messages` (a POST body: one message or a batch), but those of `except`. */
export function requestIds(messages: unknown, except?: string): (string | number)[] {
  return (Array.isArray(messages) ? messages : [messages]).flatMap((m: { method?: unknown; id?: unknown } | null) =>
    typeof m?.method === 'string' && m.method !== except && (typeof m.id === 'string' || typeof m.id === 'number') ? [m.id] : [],
  )
}

/** `requestIds` of a POST body as sent, its JSON text (the relay sends one message at a time). */
function requestIdsInText(body: unknown): (string | number)[] {
  if (typeof body !== 'string') return []
  try {
    return requestIds(JSON.parse(body))
  } catch {
    return []
  }
}
