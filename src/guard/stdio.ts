// `perso guard … -- <command>` over stdio: the client talks to this process's
// stdin and stdout, the upstream server runs as a child, and one relay
// (relay.ts) carries the session. Requests the upstream has not answered when
// it exits get an error, and the guard exits non-zero; when the client goes
// (its stdin ends or closes), the upstream is stopped.

import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js'
import type { GuardCore, Identity } from './core.js'
import { relay } from './relay.js'
import { childUpstream } from './upstream.js'

export interface StdioGuardOptions {
  /** The caller's identity, for the whole session. */
  identity: Identity
  command: string
  args: string[]
  log: (line: string) => void
}

/** Runs the proxy until either side goes; resolves with the exit code. */
export function runStdioGuard(core: GuardCore, options: StdioGuardOptions): Promise<number> {
  const downstream = new StdioServerTransport()
  const upstream = childUpstream(options.command, options.args)
  let finished = false
  // The SDK's transport never hears stdin end: that is the client going away, as closing the transport says.
  const clientGone = (): void => void downstream.close()
  process.stdin.once('end', clientGone).once('close', clientGone)

  return new Promise<number>((resolve) => {
    const finish = (code: number): void => {
      if (finished) return
      finished = true
      process.stdin.off('end', clientGone).off('close', clientGone)
      for (const line of core.summary()) options.log(line)
      void Promise.allSettled([upstream.transport.close(), downstream.close()]).then(() => resolve(code))
    }
    const session = relay(core, downstream, upstream.transport, {
      identity: () => options.identity,
      log: options.log,
      onDownstreamClose: () => finish(0),
      onDownstreamError: () => finish(1),
      onUpstreamClose: () => {
        if (finished) return
        options.log(`the upstream server \`${options.command}\` exited (${upstream.exitStatus()})`)
        void session.failPending('perso guard: the upstream server exited before answering').then(() => finish(1))
      },
    })
    upstream.transport.start().then(
      () => downstream.start(),
      (e: unknown) => {
        options.log(`could not start the upstream server \`${options.command}\`: ${e instanceof Error ? e.message : String(e)}`)
        finish(1)
      },
    )
  })
}
