// Compiles the AssemblyScript runtime (src/runtime/) into the artifact template
// dist/runtime/runtime.wasm. Runs at `npm run build` (and so at `npm ci`).
import { main } from 'assemblyscript/asc'
import { mkdirSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

// `utf8('…')` in src/runtime is a build-time macro (declared in src/runtime/utf8.d.ts):
// every distinct text is stored once, as a length byte then its UTF-8 bytes, in one
// static table (the virtual module src/runtime/texts.ts), and each call becomes that
// text's address. AssemblyScript keeps string literals as UTF-16 behind a 20-byte
// header, one data segment each: twice the bytes, and converted char by char at use.
const RUNTIME = 'src/runtime/'
const TABLE_MODULE = `${RUNTIME}texts.ts`
const TEXT_CALL = /\butf8\((?:'([^'\\]*)'|"([^"\\]*)")\)/g
const encoder = new TextEncoder()

const offsets = new Map()
const table = []
for (const file of readdirSync(RUNTIME).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))) {
  for (const match of readFileSync(join(RUNTIME, file), 'utf8').matchAll(TEXT_CALL)) {
    const text = match[1] ?? match[2]
    if (offsets.has(text)) continue
    const bytes = encoder.encode(text)
    if (bytes.length > 255) throw new Error(`utf8('${text}'): a runtime text is at most 255 bytes`)
    offsets.set(text, table.length)
    table.push(bytes.length, ...bytes)
  }
}
const tableSource = `export const TEXTS: usize = memory.data<u8>([${table.join(',')}])\n`

/** Serves the runtime sources with `utf8('…')` expanded; the import goes on line 1 so lines keep their numbers. */
function readFile(filename, baseDir) {
  const path = filename.replaceAll('\\', '/')
  if (path === TABLE_MODULE) return tableSource
  let source
  try {
    source = readFileSync(join(baseDir, filename), 'utf8')
  } catch {
    return null
  }
  if (!path.startsWith(RUNTIME) || !source.includes('utf8(')) return source
  const expanded = source.replace(TEXT_CALL, (_, single, double) => `(TEXTS__ + ${offsets.get(single ?? double)})`)
  return `import { TEXTS as TEXTS__ } from './texts'; ${expanded}`
}

mkdirSync('dist/runtime', { recursive: true })
const { error, stderr } = await main(
  [
    'src/runtime/index.ts',
    '--runtime', 'stub',
    '--noAssert',
    '--use', 'abort=src/runtime/abort/abort',
    '--memoryBase', '1024',
    '--initialMemory', '1',
    // -Oz (13.8 KB; -Os 14.7 KB) with @inline on the few hot helpers: the size keeps a small
    // policy's whole artifact under 16 KB, the inlining keeps evaluate under JSON.parse.
    '-Oz',
    '--converge',
    '--outFile', 'dist/runtime/runtime.wasm',
    '--textFile', 'dist/runtime/runtime.wat',
  ],
  { readFile },
)
if (error) {
  process.stderr.write(stderr.toString())
  process.exit(1)
}
