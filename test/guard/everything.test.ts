// perso guard in front of the reference "everything" server
// (@modelcontextprotocol/server-everything): with a policy that allows every
// call, the client gets the same answers through the guard as without it —
// tools, prompts, resources, ping, server-to-client sampling and roots,
// progress notifications, logging, and a cancelled call — compared side by
// side.

import { CreateMessageRequestSchema, ListRootsRequestSchema, LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connect, type Connected, EVERYTHING, policyFile } from './support.js'

const policy = policyFile({ version: 'all-1', default_action: 'Allow', tools: [], roles: ['user'], rules: [] })
const CAPABILITIES = { sampling: {}, roots: { listChanged: true } }

let direct: Connected
let guarded: Connected

/** The client side of sampling and roots, the same on both connections. */
function serve(c: Connected): void {
  c.client.setRequestHandler(CreateMessageRequestSchema, async (request) => ({
    model: 'test-model',
    role: 'assistant',
    content: { type: 'text', text: `sampled: ${JSON.stringify(request.params.messages[0]?.content)}` },
  }))
  c.client.setRequestHandler(ListRootsRequestSchema, async () => ({ roots: [{ uri: 'file:///tmp/root', name: 'root' }] }))
}

beforeAll(async () => {
  direct = await connect(['node', EVERYTHING, 'stdio'], undefined, CAPABILITIES)
  guarded = await connect(['node', EVERYTHING, 'stdio'], [policy, '--role', 'user'], CAPABILITIES)
  serve(direct)
  serve(guarded)
})
afterAll(async () => {
  await Promise.allSettled([direct.close(), guarded.close()])
})

/** The same question asked both ways. */
async function both<T>(ask: (c: Connected) => Promise<T>): Promise<[T, T]> {
  return [await ask(direct), await ask(guarded)]
}

describe('through perso guard, as without it', () => {
  it('initialize: the same server info, capabilities and instructions', () => {
    expect(guarded.client.getServerVersion()).toEqual(direct.client.getServerVersion())
    expect(guarded.client.getServerCapabilities()).toEqual(direct.client.getServerCapabilities())
    expect(guarded.client.getInstructions()).toEqual(direct.client.getInstructions())
  })

  it('tools, prompts, resources and their templates list the same; ping answers', async () => {
    const [a, b] = await both(async (c) => ({
      tools: (await c.client.listTools()).tools.map((t) => t.name).sort(),
      prompts: await c.client.listPrompts(),
      resources: await c.client.listResources(),
      templates: await c.client.listResourceTemplates(),
      ping: await c.client.ping(),
    }))
    expect(b).toEqual(a)
    expect(a.tools.length).toBeGreaterThan(5)
  })

  it('calls answer the same: echo, get-sum, a prompt, a resource read', async () => {
    const [a, b] = await both(async (c) => ({
      echo: await c.client.callTool({ name: 'echo', arguments: { message: 'hello' } }),
      sum: await c.client.callTool({ name: 'get-sum', arguments: { a: 2, b: 3 } }),
      prompt: await c.client.getPrompt({ name: 'simple-prompt' }).catch((e: Error) => e.message),
      resource: await c.client.readResource({ uri: (await c.client.listResources()).resources[0]!.uri }),
    }))
    expect(b).toEqual(a)
  })

  it('server-to-client requests pass through: sampling, roots', async () => {
    const [a, b] = await both(async (c) => ({
      sampling: await c.client.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'hi', maxTokens: 10 } }),
      roots: await c.client.callTool({ name: 'get-roots-list', arguments: {} }),
    }))
    expect(b).toEqual(a)
    expect(JSON.stringify(b.sampling)).toContain('sampled:')
  })

  it('progress notifications arrive through the guard, as they do directly', async () => {
    const [a, b] = await both(async (c) => {
      const progress: number[] = []
      const result = await c.client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 0.6, steps: 3 } }, undefined, {
        onprogress: (p) => void progress.push(p.progress),
      })
      return { result, progress }
    })
    expect(b.result).toEqual(a.result)
    // The last notification races the result in the client (it drops progress that comes after its
    // answer), directly as through the guard: both see the steps in order, at least the first two.
    for (const { progress } of [a, b]) {
      expect(progress.length).toBeGreaterThanOrEqual(2)
      expect(progress).toEqual([1, 2, 3].slice(0, progress.length))
    }
  })

  it('logging: the level is set and messages arrive both ways', async () => {
    const [a, b] = await both(async (c) => {
      const seen: string[] = []
      c.client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void seen.push(n.params.level))
      await c.client.setLoggingLevel('debug')
      await c.client.callTool({ name: 'toggle-simulated-logging', arguments: {} })
      await new Promise((r) => setTimeout(r, 1500))
      await c.client.callTool({ name: 'toggle-simulated-logging', arguments: {} })
      return seen.length > 0
    })
    expect(b).toBe(a)
  })

  it('a cancelled call is cancelled, and the guard goes on serving', async () => {
    const [a, b] = await both(async (c) => {
      const controller = new AbortController()
      const call = c.client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 5, steps: 5 } }, undefined, { signal: controller.signal })
      setTimeout(() => controller.abort('changed my mind'), 300)
      const outcome = await call.then(
        () => 'finished',
        (e: Error) => (/abort|cancel|changed my mind/i.test(String(e.message ?? e)) ? 'cancelled' : `failed: ${e.message}`),
      )
      await c.client.ping()
      return outcome
    })
    expect(a).toBe('cancelled')
    expect(b).toBe(a)
  })
})
