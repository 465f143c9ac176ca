// The gateway's per-session event store (src/guard/events.ts): what a client
// resuming with Last-Event-ID is sent, and the bounds that drop the oldest.

import { describe, expect, it } from 'vitest'
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js'
import { SessionEvents } from '../../src/guard/events.js'

const note = (n: number, pad = ''): JSONRPCMessage => ({ jsonrpc: '2.0', method: 'notifications/message', params: { n, pad } })

async function replay(store: SessionEvents, after: string): Promise<{ stream: string; sent: [string, number][] }> {
  const sent: [string, number][] = []
  const stream = await store.replayEventsAfter(after, { send: async (id, message) => void sent.push([id, (message as unknown as { params: { n: number } }).params.n]) })
  return { stream, sent }
}

describe('SessionEvents', () => {
  it('replays, after an event, the later events of its own stream only, without priming events', async () => {
    const store = new SessionEvents()
    const a0 = await store.storeEvent('a', {} as JSONRPCMessage)
    const b0 = await store.storeEvent('_GET_stream', note(0))
    const a1 = await store.storeEvent('a', note(1))
    await store.storeEvent('_GET_stream', note(2))
    const a3 = await store.storeEvent('a', note(3))
    expect(a0).toMatch(/^a\/\d+$/)
    expect(await store.getStreamIdForEventId(b0)).toBe('_GET_stream')
    expect(await replay(store, a0)).toEqual({ stream: 'a', sent: [[a1, 1], [a3, 3]] })
    expect((await replay(store, b0)).sent.map(([, n]) => n)).toEqual([2])
    expect((await replay(store, a3)).sent).toEqual([])
  })

  it('holds at most `events` events, dropping the oldest; a dropped id cannot be resumed from', async () => {
    const store = new SessionEvents({ events: 3, bytes: 1 << 20 })
    const ids = []
    for (let n = 0; n < 5; n++) ids.push(await store.storeEvent('s', note(n)))
    expect(await store.getStreamIdForEventId(ids[1]!)).toBeUndefined()
    await expect(replay(store, ids[1]!)).rejects.toThrow(/no event s\/1 to resume from/)
    expect((await replay(store, ids[2]!)).sent.map(([, n]) => n)).toEqual([3, 4])
  })

  it('holds at most `bytes` bytes, dropping the oldest, but always the newest event', async () => {
    const padded = Buffer.byteLength(JSON.stringify(note(1, 'x'.repeat(150))))
    // Room for two padded events, not for a third small one besides.
    const store = new SessionEvents({ events: 100, bytes: 2 * padded + 10 })
    const small = await store.storeEvent('s', note(0))
    const mid = await store.storeEvent('s', note(1, 'x'.repeat(150)))
    await store.storeEvent('s', note(2, 'x'.repeat(150)))
    expect(await store.getStreamIdForEventId(small)).toBeUndefined()
    expect(await store.getStreamIdForEventId(mid)).toBe('s')
    const huge = await store.storeEvent('s', note(3, 'x'.repeat(1000)))
    expect(await store.getStreamIdForEventId(mid)).toBeUndefined()
    expect(await store.getStreamIdForEventId(huge)).toBe('s')
  })

  it('holds nothing once cleared (the session ended)', async () => {
    const store = new SessionEvents()
    const id = await store.storeEvent('s', note(0))
    store.clear()
    expect(await store.getStreamIdForEventId(id)).toBeUndefined()
  })
})
