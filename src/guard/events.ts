// What the gateway has sent one session's client on its SSE streams, kept a
// while so that a client whose stream dropped can reconnect with
// `Last-Event-ID` and receive what it missed (resumability, in the MCP
// Streamable HTTP transport). One store per session, gone with it; bounded by
// count and bytes, the oldest events dropped first.

import type { EventId, EventStore, StreamId } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js'

/** How much one session keeps for replay. */
export interface EventLimits {
  events: number
  bytes: number
}

export const EVENT_LIMITS: EventLimits = { events: 1000, bytes: 1024 * 1024 }

/** An event as sent: held as its JSON text, so that what the bounds count is what is kept. */
interface Held {
  streamId: StreamId
  json: string
  bytes: number
}

/**
 * A session's events, in the order sent. An event id is `<stream id>/<n>`: it
 * names its stream (a POST's response stream, or the GET stream), so a replay
 * goes back to the stream the client lost, and `n` counts within the session.
 * An event dropped to keep the bounds can no longer be resumed from: the
 * transport answers such a `Last-Event-ID` with 400 rather than replay a
 * stream with a gap in it.
 */
export class SessionEvents implements EventStore {
  private readonly held = new Map<EventId, Held>()
  private bytes = 0
  private next = 0

  constructor(private readonly limits: EventLimits = EVENT_LIMITS) {}

  async storeEvent(streamId: StreamId, message: JSONRPCMessage): Promise<EventId> {
    const id = `${streamId}/${this.next++}`
    const json = JSON.stringify(message)
    const bytes = Buffer.byteLength(json)
    this.held.set(id, { streamId, json, bytes })
    this.bytes += bytes
    // The newest event stays even when it alone is over the bytes: the client holds its id.
    for (const [oldest, event] of this.held) {
      if (this.held.size <= 1 || (this.held.size <= this.limits.events && this.bytes <= this.limits.bytes)) break
      this.held.delete(oldest)
      this.bytes -= event.bytes
    }
    return id
  }

  async getStreamIdForEventId(eventId: EventId): Promise<StreamId | undefined> {
    return this.held.get(eventId)?.streamId
  }

  async replayEventsAfter(lastEventId: EventId, { send }: { send: (eventId: EventId, message: JSONRPCMessage) => Promise<void> }): Promise<StreamId> {
    const last = this.held.get(lastEventId)
    if (last === undefined) throw new Error(`no event ${lastEventId} to resume from`)
    let after = false
    // A copy: sending may store more events meanwhile, and those go out as they are sent.
    // A stream's priming event (`{}`, only an id for the client to hold) has nothing to replay.
    for (const [id, event] of [...this.held]) {
      if (after && event.streamId === last.streamId && event.json !== '{}') await send(id, JSON.parse(event.json) as JSONRPCMessage)
      after ||= id === lastEventId
    }
    return last.streamId
  }

  /** The session ended: nothing more will be resumed. */
  clear(): void {
    this.held.clear()
    this.bytes = 0
  }
}
