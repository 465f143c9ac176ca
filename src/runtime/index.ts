// The artifact ABI (spec §6) and the optional fields export, no imports. The
// policy is compiled in at `__perso_policy`, which `emit` sets and then un-exports.

import './abort'
import { Header, hasPolicy, header, __perso_policy } from './blob'
import { decide } from './decide'
import { beginCall, endIfInMemory, inMemory } from './memory'
import { begin, error, finish, putEscaped, putText } from './response'
import { sha256 } from './sha256'
import { bytesEqual } from './text'

export { __perso_policy } from './blob'
export { alloc } from './memory'
/** The optional fields export (docs/design.md "The fields export"), for hosts that read the metadata. */
export { decideFields as evaluate_fields } from './decide'

/** Always safe: the arena is reclaimed wholesale at the next call (design.md "Memory model"). */
export function dealloc(ptr: usize, len: usize): void {}

export function init(ptr: usize, len: usize): usize {
  beginCall(endIfInMemory(ptr, len))
  if (!hasPolicy()) return error(utf8('init'), utf8('no policy is compiled into this module'))
  if (len != 0) {
    if (!inMemory(ptr, len)) return error(utf8('init'), utf8('buffer outside memory'))
    let digest = sha256(ptr, len)
    if (digest == 0) return error(utf8('init'), utf8('out of memory'))
    if (!bytesEqual(digest, <usize>__perso_policy + <usize>Header.Sha256, 32)) {
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
  let floor = max(max(endIfInMemory(toolPtr, toolLen), endIfInMemory(argsPtr, argsLen)), endIfInMemory(ctxPtr, ctxLen))
  beginCall(floor)
  if (!hasPolicy()) return error(utf8('evaluate'), utf8('no policy is compiled into this module'))
  return decide(toolPtr, toolLen, argsPtr, argsLen, ctxPtr, ctxLen)
}

