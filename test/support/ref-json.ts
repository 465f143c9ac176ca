// The reference evaluator's strict JSON reader (spec §5), written apart from the
// product's runtime so the differential test compares two independent readings.

/** Deepest nesting of arrays and objects that is read, counted over the whole text (spec §5: 128 levels or more is an error). */
export const MAX_DEPTH = 127

interface Span {
  /** Byte offset of the value's first byte in the input. */
  start: number
  /** Byte offset just past the value's last byte. */
  end: number
}

export interface Member {
  /** The key after unescaping. */
  key: string
  /** Byte offset of the key's opening quote. */
  at: number
  value: JsonValue
}

/** A JSON value with its source span; objects keep every member in order, duplicates too. */
export type JsonValue = Span &
  (
    | { kind: 'null' }
    | { kind: 'bool'; value: boolean }
    | { kind: 'number'; value: number; text: string }
    | { kind: 'string'; value: string }
    | { kind: 'array'; items: JsonValue[] }
    | { kind: 'object'; members: Member[] }
  )

export type ReadResult = { value: JsonValue } | { error: string }

class JsonError extends Error {}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** Decodes UTF-8 strictly (no BOM stripping); undefined when the bytes are not valid UTF-8. */
export function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return utf8.decode(bytes)
  } catch {
    return undefined
  }
}

const isWhitespace = (b: number | undefined): boolean => b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d
const isDigit = (b: number | undefined): boolean => b !== undefined && b >= 0x30 && b <= 0x39

class Reader {
  private pos = 0
  constructor(private readonly bytes: Uint8Array) {}

  read(): JsonValue {
    this.skipWhitespace()
    if (this.pos >= this.bytes.length) this.fail('empty input')
    const value = this.value(0)
    this.skipWhitespace()
    if (this.pos < this.bytes.length) this.fail('trailing characters')
    return value
  }

  private fail(message: string, at = this.pos): never {
    throw new JsonError(`${message} at byte ${at}`)
  }

  private skipWhitespace(): void {
    while (isWhitespace(this.bytes[this.pos])) this.pos++
  }

  private literal(word: string): void {
    for (let i = 0; i < word.length; i++) {
      if (this.bytes[this.pos] !== word.charCodeAt(i)) this.fail('syntax error')
      this.pos++
    }
  }

  /** `depth` is the number of arrays and objects that enclose this value. */
  private value(depth: number): JsonValue {
    const start = this.pos
    const b = this.bytes[this.pos]
    switch (b) {
      case undefined:
        return this.fail('unexpected end of input')
      case 0x7b: // {
      case 0x5b: // [
        // Checked before recursing, so recursion depth stays at most MAX_DEPTH + 1.
        if (depth + 1 > MAX_DEPTH) this.fail(`nesting deeper than ${MAX_DEPTH}`)
        return b === 0x7b ? this.object(depth + 1) : this.array(depth + 1)
      case 0x22: {
        const value = this.string()
        return { kind: 'string', value, start, end: this.pos }
      }
      case 0x6e:
        this.literal('null')
        return { kind: 'null', start, end: this.pos }
      case 0x74:
        this.literal('true')
        return { kind: 'bool', value: true, start, end: this.pos }
      case 0x66:
        this.literal('false')
        return { kind: 'bool', value: false, start, end: this.pos }
      default:
        if (b === 0x2d || isDigit(b)) return this.number()
        return this.fail('syntax error')
    }
  }

  private array(depth: number): JsonValue {
    const start = this.pos
    this.pos++ // [
    const items: JsonValue[] = []
    this.skipWhitespace()
    if (this.bytes[this.pos] === 0x5d) {
      this.pos++
      return { kind: 'array', items, start, end: this.pos }
    }
    for (;;) {
      this.skipWhitespace()
      items.push(this.value(depth))
      this.skipWhitespace()
      const b = this.bytes[this.pos]
      this.pos++
      if (b === 0x5d) return { kind: 'array', items, start, end: this.pos }
      if (b !== 0x2c) this.fail('expected `,` or `]`', this.pos - 1)
    }
  }

  private object(depth: number): JsonValue {
    const start = this.pos
    this.pos++ // {
    const members: Member[] = []
    this.skipWhitespace()
    if (this.bytes[this.pos] === 0x7d) {
      this.pos++
      return { kind: 'object', members, start, end: this.pos }
    }
    for (;;) {
      this.skipWhitespace()
      if (this.bytes[this.pos] !== 0x22) this.fail('expected a key')
      const at = this.pos
      const key = this.string()
      this.skipWhitespace()
      if (this.bytes[this.pos] !== 0x3a) this.fail('expected `:`')
      this.pos++
      this.skipWhitespace()
      members.push({ key, at, value: this.value(depth) })
      this.skipWhitespace()
      const b = this.bytes[this.pos]
      this.pos++
      if (b === 0x7d) return { kind: 'object', members, start, end: this.pos }
      if (b !== 0x2c) this.fail('expected `,` or `}`', this.pos - 1)
    }
  }

  private number(): JsonValue {
    const start = this.pos
    if (this.bytes[this.pos] === 0x2d) this.pos++
    if (this.bytes[this.pos] === 0x30) {
      this.pos++
    } else if (isDigit(this.bytes[this.pos])) {
      while (isDigit(this.bytes[this.pos])) this.pos++
    } else {
      this.fail('invalid number')
    }
    if (this.bytes[this.pos] === 0x2e) {
      this.pos++
      if (!isDigit(this.bytes[this.pos])) this.fail('invalid number')
      while (isDigit(this.bytes[this.pos])) this.pos++
    }
    if (this.bytes[this.pos] === 0x65 || this.bytes[this.pos] === 0x45) {
      this.pos++
      if (this.bytes[this.pos] === 0x2b || this.bytes[this.pos] === 0x2d) this.pos++
      if (!isDigit(this.bytes[this.pos])) this.fail('invalid number')
      while (isDigit(this.bytes[this.pos])) this.pos++
    }
    const text = utf8.decode(this.bytes.subarray(start, this.pos))
    // Number() rounds correctly to the nearest double, as the spec requires.
    const value = Number(text)
    if (!Number.isFinite(value)) this.fail('number out of range', start)
    return { kind: 'number', value, text, start, end: this.pos }
  }

  /** Reads a string at `"`, returns its unescaped characters. */
  private string(): string {
    this.pos++ // opening quote
    let out = ''
    let runStart = this.pos
    const flushRun = (): void => {
      const text = decodeUtf8(this.bytes.subarray(runStart, this.pos))
      if (text === undefined) this.fail('invalid UTF-8', runStart)
      out += text
    }
    for (;;) {
      const b = this.bytes[this.pos]
      if (b === undefined) this.fail('unterminated string')
      if (b === 0x22) {
        flushRun()
        this.pos++
        return out
      }
      if (b < 0x20) this.fail('control character in string')
      if (b !== 0x5c) {
        this.pos++
        continue
      }
      flushRun()
      out += this.escape()
      runStart = this.pos
    }
  }

  /** Reads one escape at `\`; a `\u` high surrogate must be followed by a `\u` low surrogate. */
  private escape(): string {
    const at = this.pos
    this.pos++ // backslash
    const b = this.bytes[this.pos]
    this.pos++
    switch (b) {
      case 0x22: return '"'
      case 0x5c: return '\\'
      case 0x2f: return '/'
      case 0x62: return '\b'
      case 0x66: return '\f'
      case 0x6e: return '\n'
      case 0x72: return '\r'
      case 0x74: return '\t'
      case 0x75: {
        const unit = this.hex4()
        if (unit >= 0xdc00 && unit <= 0xdfff) this.fail('lone surrogate', at)
        if (unit < 0xd800 || unit > 0xdbff) return String.fromCharCode(unit)
        if (this.bytes[this.pos] !== 0x5c || this.bytes[this.pos + 1] !== 0x75) this.fail('lone surrogate', at)
        this.pos += 2
        const low = this.hex4()
        if (low < 0xdc00 || low > 0xdfff) this.fail('lone surrogate', at)
        return String.fromCharCode(unit, low)
      }
      default:
        return this.fail('invalid escape', at)
    }
  }

  private hex4(): number {
    let unit = 0
    for (let i = 0; i < 4; i++) {
      const b = this.bytes[this.pos]
      let digit: number
      if (b !== undefined && b >= 0x30 && b <= 0x39) digit = b - 0x30
      else if (b !== undefined && b >= 0x61 && b <= 0x66) digit = b - 0x61 + 10
      else if (b !== undefined && b >= 0x41 && b <= 0x46) digit = b - 0x41 + 10
      else return this.fail('invalid escape')
      unit = unit * 16 + digit
      this.pos++
    }
    return unit
  }
}

/** Reads one complete JSON text, or says why it is not one (message ends with ` at byte N`). */
export function readJson(bytes: Uint8Array): ReadResult {
  try {
    return { value: new Reader(bytes).read() }
  } catch (e) {
    if (e instanceof JsonError) return { error: e.message }
    throw e
  }
}

/** The last member of `object` whose unescaped key is `key` (spec: the last occurrence counts). */
export function lastMember(object: JsonValue, key: string): JsonValue | undefined {
  if (object.kind !== 'object') return undefined
  let found: JsonValue | undefined
  for (const member of object.members) if (member.key === key) found = member.value
  return found
}

/** The 64-byte limit on echoed raw values, texts and labels (docs/design.md "Reasons"). */
export const CUT_BYTES = 64

/**
 * Cuts UTF-8 `bytes` to at most `max` bytes at a character boundary and appends
 * `…` when anything was cut. Bytes must be valid UTF-8.
 */
export function cutUtf8Bytes(bytes: Uint8Array, max = CUT_BYTES): string {
  if (bytes.length <= max) return utf8.decode(bytes)
  let end = max
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--
  return utf8.decode(bytes.subarray(0, end)) + '…'
}

/** `cutUtf8Bytes` for a string. */
export const cutText = (text: string, max = CUT_BYTES): string => cutUtf8Bytes(new TextEncoder().encode(text), max)

/** The value's JSON text exactly as in the input, cut (the `<raw>` of an account). */
export const rawText = (input: Uint8Array, value: JsonValue): string => cutUtf8Bytes(input.subarray(value.start, value.end))
