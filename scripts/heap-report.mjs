// Preloaded into the gateway by scripts/load.js (node --expose-gc --import): on
// SIGUSR2 it collects garbage and writes the heap in use to stderr, so that the
// load test compares what the gateway keeps, not how much memory V8 has yet to
// give back (RSS). Measurement only: the guard itself never loads it.
process.on('SIGUSR2', () => {
  globalThis.gc()
  globalThis.gc()
  const { heapUsed, external } = process.memoryUsage()
  process.stderr.write(`heap-report ${heapUsed} ${external}\n`)
})
