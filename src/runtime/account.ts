// The account of a failed condition (docs/design.md "Reasons"), written into
// the response being written, JSON-escaped. Only `Arguments` values are quoted:
// attribute values never leave the artifact. Field names are never cut; an ANY
// lists its alternatives up to a bound on the account's own (unescaped) bytes,
// then counts the rest.

import { Fault, raise } from './fault'
import { CompositeNode, EqualsNode, InNode, NotNode, NumericNode, Op, Read, SOURCES, Source, TextRef } from './layout'
import { Failure, check, holds, lastFailure, lastLeaf, nodeSize, readAt, readOf, valueEndOf, valueOf } from './interp'
import { putDecimal, putEllipsis, putEscaped, putText } from './response'
import { cutAtBoundary } from './text'

/** Longest quoted value, in bytes, before it is shortened with `…`. */
const QUOTE_LIMIT: usize = 64
/** An ANY stops listing its alternatives once its list has reached this many bytes. */
const LIST_LIMIT: usize = 200

/** Bytes of the account written so far, before escaping. */
let spoken: usize = 0

function say(text: usize): void {
  putText(text)
  spoken += <usize>load<u8>(text)
}

function sayBytes(p: usize, len: usize): void {
  putEscaped(p, len)
  spoken += len
}

/** Writes why `node`, which does not hold, fails, into the response being written. */
export function writeAccount(node: usize): void {
  spoken = 0
  explain(node)
}

function explain(node: usize): void {
  let op = <i32>load<u8>(node)
  if (op == Op.All) explainAll(node)
  else if (op == Op.Any) explainAny(node)
  else if (op == Op.Not) {
    sayTextRef(node + NotNode.Label)
    say(utf8(' did not hold'))
  } else explainLeaf(node, node == lastLeaf ? lastFailure : check(node))
}

/** The account of the first child that fails. */
function explainAll(node: usize): void {
  let count = load<u32>(node, CompositeNode.Count)
  let child = node + CompositeNode.Header
  for (let i: u32 = 0; i < count; i++) {
    if (!holds(child)) return explain(child)
    child += nodeSize(child)
  }
  // Every child holds, yet the ALL failed: the blob cannot be trusted.
  raise(Fault.Corrupt)
}

/** `none of the alternatives held: <a>; <b>; …; and N more`, or the label of an empty ANY. */
function explainAny(node: usize): void {
  let count = load<u32>(node, CompositeNode.Count)
  if (count == 0) {
    sayTextRef(node + CompositeNode.Label)
    say(utf8(' did not hold'))
    return
  }
  let start = spoken
  say(utf8('none of the alternatives held: '))
  let child = node + CompositeNode.Header
  for (let i: u32 = 0; i < count; i++) {
    if (i > 0) {
      if (spoken - start >= LIST_LIMIT) {
        say(utf8('; and '))
        putDecimal(<u64>(count - i)) // the list is over: its length no longer counts
        say(utf8(' more'))
        return
      }
      say(utf8('; '))
    }
    explain(child)
    child += nodeSize(child)
  }
}

function explainLeaf(node: usize, failure: Failure): void {
  let a = readOf(node, 1)
  switch (failure) {
    case Failure.MissingA:
    case Failure.MissingB:
      putName(failure == Failure.MissingA ? a : readOf(node, EqualsNode.B))
      say(utf8(' is missing'))
      return
    case Failure.NullA:
    case Failure.NullB:
      putName(failure == Failure.NullA ? a : readOf(node, EqualsNode.B))
      say(utf8(' is null'))
      return
    case Failure.NotNumber:
      putNameAndQuote(a)
      say(utf8(' is not a number'))
      return
    case Failure.NotString:
      putNameAndQuote(a)
      say(utf8(' is not a string'))
      return
    case Failure.Compared:
      putNameAndQuote(a)
      say(utf8(' is not '))
      sayTextRef(node + (<i32>load<u8>(node) == Op.Numeric ? NumericNode.Text : InNode.Text))
      return
    case Failure.Differ:
      putNameAndQuote(a)
      say(utf8(' does not equal '))
      putNameAndQuote(readOf(node, EqualsNode.B))
      return
  }
  // A leaf that holds has no account.
  raise(Fault.Corrupt)
}

/** `<Source>.<field>`, whole. */
function putName(read: u32): void {
  let r = readAt(read)
  saySourceName(load<u32>(r, Read.Source))
  say(utf8('.'))
  sayBytes(load<u32>(r, Read.FieldPtr), load<u32>(r, Read.FieldLen))
}

/** The source's name from the generated table of texts (a length byte, then UTF-8, per source). */
function saySourceName(source: u32): void {
  let text = SOURCES
  for (let i: u32 = 0; i < source; i++) text += 1 + <usize>load<u8>(text)
  say(text)
}

/** `<Source>.<field>`, and ` = <raw>` for an `Arguments` value: the raw text, shortened past 64 bytes with `…`. */
function putNameAndQuote(read: u32): void {
  putName(read)
  if (load<u32>(readAt(read), Read.Source) != Source.Arguments) return
  say(utf8(' = '))
  let start = valueOf(read)
  let len = valueEndOf(read) - start
  let cut = cutAtBoundary(start, len, QUOTE_LIMIT)
  sayBytes(start, cut)
  if (cut < len) {
    putEllipsis()
    spoken += 3
  }
}

/** The text behind a text ref in the blob. */
function sayTextRef(at: usize): void {
  let ref = <usize>load<u32>(at)
  sayBytes(load<u32>(ref, TextRef.Ptr), load<u32>(ref, TextRef.Len))
}
