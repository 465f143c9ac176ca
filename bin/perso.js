#!/usr/bin/env node
// The installed `perso` command: real streams and files in, exit code out.
import { main } from '../dist/src/cli/main.js'
import { nodeIo } from '../dist/src/cli/node-io.js'

// A reader that stops early (`perso inspect x.wasm | head`) closes the pipe: that
// is the reader's choice, not an error worth a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0)
    throw e
  })
}

process.exitCode = await main(process.argv.slice(2), nodeIo())
