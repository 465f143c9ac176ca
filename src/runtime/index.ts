// The artifact ABI (spec §6) and the values export, no imports. The policy is
// compiled in at `__perso_policy`, which `emit` sets and then un-exports. Every
// export starts the heap and checks the blob on first use; every call declares
// what it reads before it takes any scratch (docs/design.md "Memory model").

import './abort'
import { startKept } from './answers'
import { blob, header, heapStart } from './blob'
import { canonical } from './canonical'
import { decideTexts, decideValues, faultAnswer, jsonError } from './decide'
import { Fault, fault } from './fault'
import { rootEnd, rootStart, validate } from './json'
import { Header, Limit, ValueRecord, ValuesTable } from './layout'
import { allocBuffer, release } from './buffers'
import { heapStarted, inMemory, startHeap } from './heap'
import { beginCall, input, startScratch } from './scratch'
import { begin, error, finish, putEscaped, putText, startText, textEnd } from './response'
import { sha256 } from './sha256'
import { bytesEqual } from './text'
import { policyAbsent, policySound } from './verify'

export { __perso_policy, __perso_static_end } from './blob'


/** Starts the heap past the blob, once, then checks the blob (its scratch lies in the wilderness) and makes the table of kept answers. */
function prepare(): void {
  if (heapStarted()) return
  startHeap(heapStart())
  beginCall()
  startScratch()
  // Kept answers take their memory now, at the heap's start, where it never splits the heap.
  if (policySound()) startKept()
}

/** Spec §6: a buffer of `len` bytes, the host's until it deallocs it; traps when memory cannot grow. */
export function alloc(len: i32): usize {
  prepare()
  return allocBuffer(len)
}

/** Spec §6: releases a host buffer or a response, given with its length; anything else is ignored. */
export function dealloc(ptr: usize, len: usize): void {
  prepare()
  release(ptr, len)
}

/** The answer when there is no sound policy to decide with. */
function noPolicy(export_: usize): usize {
  if (policyAbsent()) return error(export_, utf8('no policy is compiled into this module'))
  return error(export_, utf8('the policy in this artifact is corrupt; recompile it with perso compile'))
}

export function init(ptr: usize, len: usize): usize {
  prepare()
  beginCall()
  let inside = input(ptr, len)
  startScratch()
  if (!policySound()) return noPolicy(utf8('init'))
  if (len != 0) {
    if (!inside) return error(utf8('init'), utf8('buffer outside memory'))
    if (!validate(ptr, len, Limit.Depth)) return jsonError(utf8('init'))
    // The same policy is the same JSON value: the same canonical text (spec §6).
    let text = startText()
    canonical(rootStart, rootEnd)
    let digest = sha256(text, textEnd() - text)
    if (fault != Fault.None || digest == 0) return faultAnswer(utf8('init'))
    if (!bytesEqual(digest, blob() + Header.Digest, 32)) {
      return error(utf8('init'), utf8('this artifact was compiled from another policy; recompile it with perso compile'))
    }
  }
  begin()
  putText(utf8('{"ok":true,"version":"'))
  putEscaped(header(Header.VersionPtr), header(Header.VersionLen))
  putText(utf8('"}'))
  return finish()
}


export function evaluate(toolPtr: usize, toolLen: usize, argsPtr: usize, argsLen: usize, ctxPtr: usize, ctxLen: usize): usize {
  prepare()
  beginCall()
  let toolIn = input(toolPtr, toolLen)
  let argsIn = input(argsPtr, argsLen)
  let ctxIn = input(ctxPtr, ctxLen)
  startScratch()
  if (!policySound()) return noPolicy(utf8('evaluate'))
  return decideTexts(toolPtr, toolLen, toolIn, argsPtr, argsLen, argsIn, ctxPtr, ctxLen, ctxIn)
}

/**
 * The values export (docs/design.md "The values export"): the decision on
 * (tool, role) from the values of the entry's reads that the host looked up,
 * the same bytes `evaluate` answers for the same request.
 */
export function evaluate_values(toolPtr: usize, toolLen: usize, rolePtr: usize, roleLen: usize, values: usize): usize {
  prepare()
  beginCall()
  let toolIn = input(toolPtr, toolLen)
  let roleIn = input(rolePtr, roleLen)
  let valuesIn = declareValues(values)
  startScratch()
  if (!policySound()) return noPolicy(utf8('evaluate_values'))
  return decideValues(toolPtr, toolLen, toolIn, rolePtr, roleLen, roleIn, values, valuesIn)
}

/** Declares the values table and every name and value it points at; false when any lies outside memory. */
function declareValues(values: usize): bool {
  if (!inMemory(values, ValuesTable.Records)) return false
  let count = <u64>load<u32>(values, ValuesTable.Count)
  let size = <u64>ValuesTable.Records + count * ValueRecord.Size
  if (size > 0xffffffff || !input(values, <usize>size)) return false
  for (let r: u64 = 0; r < count; r++) {
    let record = values + ValuesTable.Records + <usize>r * ValueRecord.Size
    if (!input(load<u32>(record, ValueRecord.NamePtr), load<u32>(record, ValueRecord.NameLen))) return false
    // An absent value (length 0) is not read, so it may point anywhere.
    let len = load<u32>(record, ValueRecord.ValueLen)
    if (len != 0 && !input(load<u32>(record, ValueRecord.ValuePtr), len)) return false
  }
  return true
}
