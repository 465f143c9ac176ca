// render: diagnostics (byte spans) → what a person reads (file:line:col, the
// source line, a caret underline, help) or what a machine reads (JSON).

import { Chalk } from 'chalk'
import type { Diagnostic, Locate, Span } from './diagnostics.js'

export interface RenderOptions {
  color: boolean
}

/** A position as people count: 1-based line, 1-based column in code points. */
export interface Position {
  line: number
  column: number
}

/** The `--format json` shape of one diagnostic; `endLine`/`endColumn` are exclusive. */
export interface JsonDiagnostic {
  code: string
  severity: 'error' | 'warning'
  message: string
  file: string
  line: number
  column: number
  endLine: number
  endColumn: number
  help?: string
  related?: { message: string; file: string; line: number; column: number }[]
}

/** Source lines wider than this are shown as a window around the span (minified or 50 MB one-liners). */
const MAX_SHOWN = 120

const utf8 = new TextDecoder('utf-8')

/** Maps byte offsets to positions; line starts are found lazily, only as far as asked (50 MB files exist). */
export class SourceMap {
  private readonly lineStarts: number[] = [0]
  private scanned = 0

  constructor(private readonly source: Uint8Array) {}

  position(offset: number): Position {
    const at = Math.max(0, Math.min(offset, this.source.length))
    const line = this.lineOf(at)
    return { line: line + 1, column: this.codePoints(this.lineStarts[line]!, at) + 1 }
  }

  /** Byte offset where a 1-based line starts (after `position` reached it). */
  lineStart(line: number): number {
    return this.lineStarts[line - 1] ?? this.source.length
  }

  /** Byte offset where the line starting at `start` ends, before its line break. */
  lineEnd(start: number): number {
    let end = this.source.indexOf(0x0a, start)
    if (end === -1) end = this.source.length
    if (end > start && this.source[end - 1] === 0x0d) end--
    return end
  }

  /** Continuation bytes (10xxxxxx) do not start a code point. */
  codePoints(start: number, end: number): number {
    let n = 0
    for (let i = start; i < end; i++) if ((this.source[i]! & 0xc0) !== 0x80) n++
    return n
  }

  private lineOf(offset: number): number {
    while (this.scanned < offset) {
      if (this.source[this.scanned] === 0x0a) this.lineStarts.push(this.scanned + 1)
      this.scanned++
    }
    let lo = 0
    let hi = this.lineStarts.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if (this.lineStarts[mid]! <= offset) lo = mid
      else hi = mid - 1
    }
    return lo
  }
}

/** Where each rule of a policy starts, as `file:line:col` (`locate` from parse.ts). */
export function rulePlaces(source: Uint8Array, file: string, locate: Locate): (rule: number) => string {
  const map = new SourceMap(source)
  return (rule) => {
    const at = map.position(locate(['rules', rule]).start)
    return `${file}:${at.line}:${at.column}`
  }
}

export function renderDiagnostics(
  diagnostics: readonly Diagnostic[],
  source: Uint8Array,
  filename: string,
  options: RenderOptions,
): string {
  const paint = new Chalk({ level: options.color ? 1 : 0 })
  const map = new SourceMap(source)
  const blocks = diagnostics.map((d) => {
    const at = map.position(d.span.start)
    const color = d.severity === 'error' ? paint.red.bold : paint.yellow.bold
    const lines = [
      `${paint.bold(`${filename}:${at.line}:${at.column}:`)} ${color(`${d.severity}[${d.code}]`)}: ${paint.bold(d.message)}`,
      ...excerpt(source, map, d.span, (s) => color(s), paint.blue),
    ]
    if (d.help !== undefined) lines.push(`  ${paint.blue('=')} ${paint.bold('help')}: ${d.help}`)
    for (const r of d.related ?? []) {
      const p = map.position(r.span.start)
      lines.push(`${paint.bold(`${filename}:${p.line}:${p.column}:`)} ${paint.cyan('note')}: ${r.message}`)
    }
    return lines.join('\n') + '\n'
  })
  return blocks.join('\n')
}

/** The source line of a span with a caret underline; a multi-line span is underlined to the end of its first line. */
function excerpt(source: Uint8Array, map: SourceMap, span: Span, mark: (s: string) => string, gutter: (s: string) => string): string[] {
  const at = map.position(span.start)
  const lineStart = map.lineStart(at.line)
  const lineEnd = map.lineEnd(lineStart)
  // Show at most MAX_SHOWN characters, starting a little before the span.
  let from = lineStart
  if (map.codePoints(lineStart, span.start) > MAX_SHOWN - 20 && map.codePoints(lineStart, lineEnd) > MAX_SHOWN) {
    from = Math.max(lineStart, span.start - 20)
    while (from > lineStart && (source[from]! & 0xc0) === 0x80) from--
  }
  let to = Math.min(lineEnd, from + 4 * MAX_SHOWN)
  while (to < lineEnd && (source[to]! & 0xc0) === 0x80) to--
  const chars = Array.from(utf8.decode(source.subarray(from, to)), printable).slice(0, MAX_SHOWN)
  const shown = [...(from > lineStart ? ['…'] : []), ...chars]
  const cut = map.codePoints(lineStart, lineEnd) > map.codePoints(lineStart, from) + chars.length
  if (cut) shown.push('…')
  const first = (from > lineStart ? 1 : 0) + map.codePoints(from, span.start)
  const spanEnd = Math.min(Math.max(span.end, span.start), lineEnd)
  const width = Math.max(1, Math.min(map.codePoints(span.start, spanEnd), shown.length - first))
  const number = String(at.line)
  // Keep tabs under tabs so the caret lines up whatever the terminal's tab width.
  const indent = shown.slice(0, first).map((c) => (c === '\t' ? '\t' : ' ')).join('')
  return [
    `${gutter(`${number} |`)} ${shown.join('')}`.trimEnd(),
    `${gutter(`${' '.repeat(number.length)} |`)} ${indent}${mark('^'.repeat(width))}`,
  ]
}

/** Control characters and U+FFFD (bad bytes) print as one visible column each. */
function printable(c: string): string {
  return c !== '\t' && /[\u0000-\u001f\u007f-\u009f]/.test(c) ? '\ufffd' : c
}

export function diagnosticsToJson(diagnostics: readonly Diagnostic[], source: Uint8Array, filename: string): JsonDiagnostic[] {
  const map = new SourceMap(source)
  return diagnostics.map((d) => {
    const start = map.position(d.span.start)
    const end = map.position(d.span.end)
    const out: JsonDiagnostic = {
      code: d.code, severity: d.severity, message: d.message, file: filename,
      line: start.line, column: start.column, endLine: end.line, endColumn: end.column,
    }
    if (d.help !== undefined) out.help = d.help
    if (d.related !== undefined) {
      out.related = d.related.map((r) => ({ message: r.message, file: filename, ...map.position(r.span.start) }))
    }
    return out
  })
}
