// Issue 3's numbers: artifact size, compile time (and how much of it is loading
// binaryen), and evaluate through the raw ABI with JSON text in, side by side
// with V8's JSON.parse of the same args + context text.

import { readFileSync } from 'node:fs'
import { compareMedians, freshProcessMs, median, printTable } from './measure.js'
import { CRM_SCENARIOS } from './scenarios.js'

const root = new URL('..', import.meta.url)
const { compile } = await import(new URL('dist/src/compiler/compile.js', root))
const { RawArtifact } = await import(new URL('packages/sdk/dist/esm/abi.js', root))

/** The JSON text of the response at `resp`. */
function readResponse(exports, resp) {
  const memory = new Uint8Array(exports.memory.buffer)
  const length = memory[resp] | (memory[resp + 1] << 8) | (memory[resp + 2] << 16) | (memory[resp + 3] << 24)
  return new TextDecoder().decode(memory.subarray(resp + 4, resp + 4 + length))
}

/** Median wall ms of a fresh `node` running module `code`. */
const moduleMs = (code) => freshProcessMs(['--input-type=module', '-e', code], { cwd: root, runs: 5 })

export async function artifactSection() {
  const source = readFileSync(new URL('fixtures/crm.json', root))
  const { wasm } = await compile(source, { filename: 'crm.json' })

  console.log('\n## Artifact (fixtures/crm.json)\n')
  const warm = []
  for (let i = 0; i < 15; i++) {
    const start = process.hrtime.bigint()
    await compile(source, { filename: 'crm.json' })
    warm.push(Number(process.hrtime.bigint() - start) / 1e6)
  }
  const bare = moduleMs('0')
  const binaryenLoad = moduleMs("await import('binaryen')")
  const fullCompile = moduleMs(
    `const { compile } = await import('./dist/src/compiler/compile.js'); await compile((await import('node:fs')).readFileSync('fixtures/crm.json'))`,
  )
  printTable(
    ['measure', 'value'],
    [
      ['artifact size', `${wasm.length} bytes (budget ≤ 32768: 24 KB, and 32 KB where measured speed needs it)`],
      ['compile, warm (in-process median)', `${median(warm).toFixed(1)} ms`],
      ['compile, fresh process (node start to artifact)', `${(fullCompile - bare).toFixed(0)} ms over bare node start`],
      ['  of which loading binaryen', `${(binaryenLoad - bare).toFixed(0)} ms`],
    ],
  )

  console.log('\n## evaluate through the raw ABI vs JSON.parse of the same text (ns/op, medians)\n')
  const artifact = await RawArtifact.load(wasm)
  const rows = []
  for (const scenario of CRM_SCENARIOS) {
    const args = JSON.stringify(scenario.args)
    const context = JSON.stringify(scenario.context)
    const answer = JSON.parse(artifact.evaluateStrings(scenario.tool, args, context))
    if (answer.decision === undefined) throw new Error(`scenario ${scenario.name} errored: ${answer.error}`)
    // Resident: the three inputs written once into module memory, then only the evaluate call
    // and the release of its answer (spec §6: an answer lasts until the host deallocs it).
    // They sit 64 KiB into a buffer of their own, which evaluateStrings' allocs never touch.
    const encoder = new TextEncoder()
    const [tool, argBytes, contextBytes] = [scenario.tool, args, context].map((text) => encoder.encode(text))
    const at = artifact.exports.alloc(65536 + tool.length + argBytes.length + contextBytes.length) + 65536
    const memory = new Uint8Array(artifact.exports.memory.buffer)
    const argsAt = at + tool.length
    const contextAt = argsAt + argBytes.length
    memory.set(tool, at)
    memory.set(argBytes, argsAt)
    memory.set(contextBytes, contextAt)
    const evaluate = artifact.exports.evaluate
    let sink = 0
    const medians = compareMedians({
      evaluate: () => { sink += artifact.evaluateStrings(scenario.tool, args, context).length },
      resident: () => {
        const resp = evaluate(at, tool.length, argsAt, argBytes.length, contextAt, contextBytes.length)
        const n = new DataView(artifact.exports.memory.buffer).getUint32(resp, true)
        artifact.exports.dealloc(resp, 4 + n)
        sink += n
      },
      'JSON.parse': () => { sink += JSON.parse(args) === null ? 0 : 1; sink += JSON.parse(context) === null ? 0 : 1 },
    })
    if (sink === 0) throw new Error('unreachable')
    const residentAnswer = readResponse(artifact.exports, evaluate(at, tool.length, argsAt, argBytes.length, contextAt, contextBytes.length))
    if (residentAnswer !== artifact.evaluateStrings(scenario.tool, args, context)) throw new Error(`resident inputs of ${scenario.name} were overwritten: ${residentAnswer}`)
    const ratio = (ns) => (ns / medians['JSON.parse']).toFixed(2) + '×'
    rows.push([scenario.name, `${args.length + context.length} B`, answer.decision, medians.evaluate.toFixed(0), medians.resident.toFixed(0), medians['JSON.parse'].toFixed(0), ratio(medians.evaluate), ratio(medians.resident)])
  }
  printTable(['scenario', 'text', 'decision', 'evaluate ns', 'resident ns', 'JSON.parse ns', 'ratio', 'resident ratio'], rows)
  console.log('\nevaluate = encode tool/args/context into module memory + evaluate + read and decode the response text.')
  console.log('resident = the evaluate export and the release of its answer, on inputs already in module memory.')
}

if (import.meta.url === `file://${process.argv[1]}`) await artifactSection()
