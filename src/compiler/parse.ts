// parse: policy source bytes → JSON tree with a byte span on every value and key.
// Hand-written so every mistake gets a located diagnostic, and strict like the
// older engine's serde_json (no comments, no trailing commas, no duplicate keys).

import type { Diagnostic, Locate, Span } from './diagnostics.js'
import { Limit } from '@perso/sdk/internal/layout'
import { type JsonMember, type JsonNode, locator } from './json-tree.js'
import { firstInvalidUtf8 } from './utf8.js'

export type { JsonMember, JsonNode } from './json-tree.js'

export interface ParseResult {
  /** Absent after a syntax error; present (with error diagnostics) after duplicate keys or overflowing numbers. */
  tree?: JsonNode
  diagnostics: Diagnostic[]
  locate: Locate
}

/** Nesting of this many levels or more is refused, as the artifact's JSON reader refuses it (spec §5; `init` reads the policy with it). */
export const MAX_DEPTH = Limit.Depth
/** A policy is a few kilobytes; this bounds memory for hostile input. */
export const MAX_SOURCE_BYTES = 16 * 1024 * 1024

/** A syntax error: parsing stops at the first one. */
class SyntaxStop extends Error {
  constructor(readonly diagnostic: Diagnostic) {
    super(diagnostic.message)
  }
}

const utf8 = new TextDecoder('utf-8')

export function parse(bytes: Uint8Array): ParseResult {
  const diagnostics: Diagnostic[] = []
  let tree: JsonNode | undefined
  try {
    checkFile(bytes)
    tree = new Parser(bytes, diagnostics).document()
  } catch (e) {
    if (!(e instanceof SyntaxStop)) throw e
    diagnostics.push(e.diagnostic)
  }
  diagnostics.sort((a, b) => a.span.start - b.span.start)
  return { tree, diagnostics, locate: locator(tree) }
}

/** Whole-file problems that make looking at tokens pointless. */
function checkFile(bytes: Uint8Array): void {
  if (bytes.length > MAX_SOURCE_BYTES) {
    stop('E017', `policy file is too large (${bytes.length} bytes; the limit is 16 MiB)`, { start: 0, end: 0 },
      'a policy is a few kilobytes of JSON; is this the right file?')
  }
  const bad = firstInvalidUtf8(bytes)
  if (bad !== -1) {
    stop('E001', 'file is not valid UTF-8 text', { start: bad, end: bad + 1 },
      'a policy is JSON text in UTF-8; is this a binary file?')
  }
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
    stop('E018', 'file starts with a byte order mark', { start: 0, end: 3 },
      'save the file as UTF-8 without a BOM (JSON does not allow one)')
  }
  let i = 0
  while (i < bytes.length && isSpace(bytes[i]!)) i++
  if (i === bytes.length) {
    stop('E002', 'file is empty', { start: 0, end: 0 },
      'a policy is a JSON object: `{ "version": …, "default_action": …, "tools": […], "roles": […], "rules": […] }`')
  }
}

const isSpace = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09
const isDigit = (c: number | undefined): boolean => c !== undefined && c >= 0x30 && c <= 0x39

function stop(code: string, message: string, span: Span, help?: string, related?: Diagnostic['related']): never {
  const diagnostic: Diagnostic = { code, severity: 'error', message, span }
  if (help !== undefined) diagnostic.help = help
  if (related !== undefined) diagnostic.related = related
  throw new SyntaxStop(diagnostic)
}

const ESCAPES: Record<number, string> = {
  0x22: '"', 0x5c: '\\', 0x2f: '/', 0x62: '\b', 0x66: '\f', 0x6e: '\n', 0x72: '\r', 0x74: '\t',
}

/** Words people write for JSON literals; `True` → did you mean `true`? */
const LITERAL_SLIPS: Record<string, string> = {
  True: 'true', TRUE: 'true', False: 'false', FALSE: 'false', None: 'null', NULL: 'null', Null: 'null',
  nil: 'null', undefined: 'null',
}

class Parser {
  private pos = 0
  private depth = 0

  constructor(private readonly src: Uint8Array, private readonly diagnostics: Diagnostic[]) {}

  document(): JsonNode {
    this.skipSpace()
    const tree = this.value(undefined)
    this.skipSpace()
    if (this.pos < this.src.length) {
      stop('E012', 'unexpected content after the JSON document', this.charSpan(this.pos),
        'a policy file holds exactly one JSON object; remove what follows it')
    }
    return tree
  }

  /** `open` is the innermost unclosed `{`/`[`, named when the file ends inside it. */
  private value(open: Span | undefined): JsonNode {
    const c = this.src[this.pos]
    if (c === undefined) this.endOfFile(open)
    if (c === 0x7b) return this.object()
    if (c === 0x5b) return this.array()
    if (c === 0x22) {
      const start = this.pos
      const value = this.string()
      return { kind: 'string', span: { start, end: this.pos }, value }
    }
    if (c === 0x2d || isDigit(c)) return this.number()
    const word = this.word()
    if (word === 'true' || word === 'false') {
      return { kind: 'boolean', span: this.advance(word.length), value: word === 'true' }
    }
    if (word === 'null') return { kind: 'null', span: this.advance(4) }
    return this.unexpected('expected a JSON value')
  }

  private object(): JsonNode {
    const start = this.pos
    const open = this.enter()
    const members: JsonMember[] = []
    const seen = new Map<string, Span>()
    this.skipSpace()
    if (this.src[this.pos] === 0x7d) return this.leave({ kind: 'object', span: { start, end: ++this.pos }, members })
    for (;;) {
      this.skipSpace()
      const c = this.src[this.pos]
      if (c === undefined) this.endOfFile(open)
      if (c !== 0x22) this.unexpected('expected a key in double quotes')
      const keyStart = this.pos
      const key = this.string()
      const keySpan = { start: keyStart, end: this.pos }
      this.skipSpace()
      if (this.src[this.pos] !== 0x3a) {
        if (this.src[this.pos] === undefined) this.endOfFile(open)
        stop('E011', `expected \`:\` after key \`${key}\``, this.charSpan(this.pos), 'write `"key": value`')
      }
      this.pos++
      this.skipSpace()
      const value = this.value(open)
      members.push({ key, keySpan, value })
      this.duplicateCheck(seen, key, keySpan)
      this.skipSpace()
      const next = this.src[this.pos]
      if (next === 0x7d) return this.leave({ kind: 'object', span: { start, end: ++this.pos }, members })
      if (next === undefined) this.endOfFile(open)
      if (next !== 0x2c) this.missingComma('`,` or `}` after an object member', next)
      const comma = this.pos++
      this.skipSpace()
      if (this.src[this.pos] === 0x7d) this.trailingComma(comma, 'object')
    }
  }

  private array(): JsonNode {
    const start = this.pos
    const open = this.enter()
    const items: JsonNode[] = []
    this.skipSpace()
    if (this.src[this.pos] === 0x5d) return this.leave({ kind: 'array', span: { start, end: ++this.pos }, items })
    for (;;) {
      this.skipSpace()
      items.push(this.value(open))
      this.skipSpace()
      const next = this.src[this.pos]
      if (next === 0x5d) return this.leave({ kind: 'array', span: { start, end: ++this.pos }, items })
      if (next === undefined) this.endOfFile(open)
      if (next !== 0x2c) this.missingComma('`,` or `]` after an array element', next)
      const comma = this.pos++
      this.skipSpace()
      if (this.src[this.pos] === 0x5d) this.trailingComma(comma, 'array')
    }
  }

  /** Checked before descending, so a million `[` cost one error, not the call stack. */
  private enter(): Span {
    const open = { start: this.pos, end: this.pos + 1 }
    if (++this.depth >= MAX_DEPTH) {
      stop('E015', `nesting of ${MAX_DEPTH} levels or more`, open,
        `perso reads at most ${MAX_DEPTH - 1} levels of nested objects and arrays`)
    }
    this.pos++
    return open
  }

  private leave(node: JsonNode): JsonNode {
    this.depth--
    return node
  }

  private duplicateCheck(seen: Map<string, Span>, key: string, keySpan: Span): void {
    const first = seen.get(key)
    if (first === undefined) {
      seen.set(key, keySpan)
      return
    }
    // Not a syntax error: keep going so every duplicate is reported at once.
    this.diagnostics.push({
      code: 'E016', severity: 'error', message: `duplicate key \`${key}\``, span: keySpan,
      help: 'remove one of them; the older perso engine rejects a policy that repeats a key',
      related: [{ message: `\`${key}\` first appears here`, span: first }],
    })
  }

  /** Reads a string at `pos` (on the opening quote) and returns its unescaped value. */
  private string(): string {
    const start = this.pos++
    const src = this.src
    let out = ''
    let chunk = this.pos
    for (;;) {
      const c = src[this.pos]
      if (c === undefined) {
        stop('E005', 'unterminated string', { start, end: this.pos }, 'add the closing `"`')
      }
      if (c === 0x22) {
        out += utf8.decode(src.subarray(chunk, this.pos))
        this.pos++
        return out
      }
      if (c < 0x20) {
        if (c === 0x0a || c === 0x0d) {
          stop('E005', 'unterminated string', { start, end: this.pos },
            'add the closing `"` before the end of the line (write a line break inside a string as `\\n`)')
        }
        stop('E008', `control character U+${hex4(c)} in a string`, { start: this.pos, end: this.pos + 1 },
          'write it as an escape, e.g. `\\t` or `\\u0009`')
      }
      if (c === 0x5c) {
        out += utf8.decode(src.subarray(chunk, this.pos))
        out += this.escape()
        chunk = this.pos
        continue
      }
      this.pos++
    }
  }

  private escape(): string {
    const start = this.pos
    const e = this.src[this.pos + 1]
    if (e === undefined) stop('E005', 'unterminated string', { start, end: this.pos + 1 }, 'add the closing `"`')
    const simple = ESCAPES[e]
    if (simple !== undefined) {
      this.pos += 2
      return simple
    }
    if (e !== 0x75) {
      stop('E006', `invalid escape \`${this.text(start, start + 1 + this.charLength(start + 1))}\``,
        { start, end: start + 1 + this.charLength(start + 1) },
        'valid escapes are `\\"` `\\\\` `\\/` `\\b` `\\f` `\\n` `\\r` `\\t` and `\\uXXXX`; write a backslash as `\\\\`')
    }
    const high = this.hex(start)
    if (high >= 0xdc00 && high <= 0xdfff) this.loneSurrogate(start, start + 6, high)
    if (high < 0xd800 || high > 0xdbff) return String.fromCharCode(high)
    // A high surrogate must be followed by `\u` and a low surrogate (like serde_json).
    if (this.src[this.pos] !== 0x5c || this.src[this.pos + 1] !== 0x75) this.loneSurrogate(start, start + 6, high)
    const low = this.hex(this.pos)
    if (low < 0xdc00 || low > 0xdfff) this.loneSurrogate(start, start + 6, high)
    return String.fromCharCode(high, low)
  }

  /** Reads the 4 hex digits of the `\u` escape at `at`; leaves `pos` after them. */
  private hex(at: number): number {
    let v = 0
    for (let k = 2; k < 6; k++) {
      const c = this.src[at + k]
      const d = c === undefined ? -1 : hexDigit(c)
      if (d < 0) {
        if (c === undefined) stop('E005', 'unterminated string', { start: at, end: at + k }, 'add the closing `"`')
        stop('E006', `invalid escape \`${this.text(at, at + k + this.charLength(at + k))}\``,
          { start: at, end: at + k + this.charLength(at + k) }, '`\\u` takes exactly four hex digits, as in `\\u00e9`')
      }
      v = v * 16 + d
    }
    this.pos = at + 6
    return v
  }

  private loneSurrogate(start: number, end: number, unit: number): never {
    stop('E007', `lone surrogate \`\\u${hex4(unit).toLowerCase()}\` in a string`, { start, end },
      'a `\\uD800`–`\\uDBFF` escape must be followed by a `\\uDC00`–`\\uDFFF` escape; or write the character itself')
  }

  private number(): JsonNode {
    const start = this.pos
    const src = this.src
    if (src[this.pos] === 0x2d) this.pos++
    if (src[this.pos] === 0x30) {
      this.pos++
      if (isDigit(src[this.pos])) this.badNumber(start, 'leading zeros are not allowed')
    } else if (isDigit(src[this.pos])) {
      while (isDigit(src[this.pos])) this.pos++
    } else {
      this.badNumber(start, 'a `-` must be followed by digits')
    }
    if (src[this.pos] === 0x2e) {
      this.pos++
      if (!isDigit(src[this.pos])) this.badNumber(start, 'a `.` must be followed by digits')
      while (isDigit(src[this.pos])) this.pos++
    }
    if (src[this.pos] === 0x65 || src[this.pos] === 0x45) {
      this.pos++
      if (src[this.pos] === 0x2b || src[this.pos] === 0x2d) this.pos++
      if (!isDigit(src[this.pos])) this.badNumber(start, 'an exponent must have digits')
      while (isDigit(src[this.pos])) this.pos++
    }
    const span = { start, end: this.pos }
    const value = Number(this.text(start, this.pos))
    if (!Number.isFinite(value)) {
      this.diagnostics.push({
        code: 'E014', severity: 'error', message: `number \`${this.text(start, this.pos)}\` is out of range`, span,
        help: 'numbers must fit in a double (at most about 1.8e308)',
      })
    }
    return { kind: 'number', span, value }
  }

  private badNumber(start: number, why: string): never {
    let end = this.pos
    while (end < this.src.length && /[0-9A-Za-z.+-]/.test(String.fromCharCode(this.src[end]!))) end++
    stop('E013', `invalid number \`${this.text(start, Math.max(end, start + 1))}\``, { start, end: Math.max(end, start + 1) }, why)
  }

  private missingComma(expected: string, next: number): never {
    // A bare word here usually means a string closed early: `"a, "b"` reads as `"a, "` then `b`.
    const help = startsValue(next) ? 'add a `,` before it'
      : /[A-Za-z_]/.test(String.fromCharCode(next)) ? 'is a `"` missing before this point?' : undefined
    stop('E010', `expected ${expected}, found ${this.describeHere()}`, this.charSpan(this.pos), help)
  }

  private trailingComma(comma: number, where: 'object' | 'array'): never {
    stop('E009', `trailing comma in ${where === 'object' ? 'an object' : 'an array'}`, { start: comma, end: comma + 1 },
      'remove the trailing comma')
  }

  private endOfFile(open: Span | undefined): never {
    const at = this.src.length
    stop('E004', 'unexpected end of file', { start: at, end: at }, 'the file is cut short; is it complete?',
      open === undefined ? undefined : [{ message: `this \`${this.text(open.start, open.end)}\` is never closed`, span: open }])
  }

  private unexpected(expected: string): never {
    const c = this.src[this.pos]!
    const word = this.word()
    let help: string | undefined
    if (word in LITERAL_SLIPS) help = `did you mean \`${LITERAL_SLIPS[word]}\`?`
    else if (c === 0x27) help = 'JSON strings use double quotes: `"…"`'
    else if (c === 0x2f) help = 'JSON does not allow comments'
    else if (/^[A-Za-z_$]/.test(word)) help = 'keys and strings must be in double quotes'
    const span = word.length > 0 ? { start: this.pos, end: this.pos + word.length } : this.charSpan(this.pos)
    stop('E003', `unexpected ${this.describeHere()}; ${expected}`, span, help)
  }

  /** `x` for a character, the identifier-like word when there is one. */
  private describeHere(): string {
    const word = this.word()
    if (word.length > 0) return `\`${word.length > 40 ? word.slice(0, 40) + '…' : word}\``
    const c = this.src[this.pos]
    if (c === undefined) return 'end of file'
    const text = this.text(this.pos, this.pos + this.charLength(this.pos))
    return /[\u0000-\u001f\u007f]/.test(text) ? `character U+${hex4(c)}` : `\`${text}\``
  }

  private word(): string {
    let end = this.pos
    while (end < this.src.length && end - this.pos < 64 && /[A-Za-z0-9_$]/.test(String.fromCharCode(this.src[end]!))) end++
    return this.text(this.pos, end)
  }

  private charLength(at: number): number {
    const c = this.src[at]
    if (c === undefined) return 0
    return c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4
  }

  private charSpan(at: number): Span {
    return { start: at, end: at + Math.max(1, this.charLength(at)) }
  }

  private advance(n: number): Span {
    const span = { start: this.pos, end: this.pos + n }
    this.pos += n
    return span
  }

  private skipSpace(): void {
    while (this.pos < this.src.length && isSpace(this.src[this.pos]!)) this.pos++
  }

  private text(start: number, end: number): string {
    return utf8.decode(this.src.subarray(start, end))
  }
}

const startsValue = (c: number): boolean => c === 0x22 || c === 0x7b || c === 0x5b || c === 0x2d || isDigit(c) ||
  c === 0x74 || c === 0x66 || c === 0x6e

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30
  if (c >= 0x41 && c <= 0x46) return c - 0x37
  if (c >= 0x61 && c <= 0x66) return c - 0x57
  return -1
}

const hex4 = (n: number): string => n.toString(16).toUpperCase().padStart(4, '0')
