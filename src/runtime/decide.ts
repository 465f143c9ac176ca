// One decision, in the order of docs/design.md "Evaluation order in the runtime":
// check the three inputs, probe the table, run the condition, write the response.

import { EntryField, Header, __perso_policy, entryField, hasPolicy, header } from './blob'
import { failedNode, Failure, failure, judge, resolveReads, setValue, startReads, writeAccount } from './interp'
import { JsonError, errorAt, errorCode, keyEquals, nextMember, rootEnd, rootStart, stringEscaped, validate, valueEnd, valueStart } from './json'
import { beginCall, endIfInMemory, inMemory, outOfMemory, scratch } from './memory'
import { begin, beginError, endError, error, finish, plain, putDecimal, putEscaped, putText } from './response'
import { probe } from './table'
import { invalidUtf8At } from './text'
import { unescapeInto } from './unescape'

const enum Outcome {
  NoRule,
  NoCondition,
  Passed,
  Failed,
}

// Value spans found in the context, end 0 = absent.
let roleStart: usize = 0
let roleEnd: usize = 0
/** The role, if a string, has an escape: only then is it unescaped into scratch. */
let roleEscaped: bool = false

/**
 * Source spans for the interpreter: (start, end) u32 pairs for Arguments,
 * AgentAttributes and ResourceAttributes, in call scratch.
 */
let sources: usize = 0

export function decide(tool: usize, toolLen: usize, args: usize, argsLen: usize, ctx: usize, ctxLen: usize): usize {
  // Judged on memory as the host left it: taking scratch may grow memory over a
  // buffer that was outside it (memory never shrinks, so inside stays inside).
  let toolIn = inMemory(tool, toolLen)
  let argsIn = inMemory(args, argsLen)
  let ctxIn = inMemory(ctx, ctxLen)
  sources = scratch(24)
  if (sources == 0) return error(utf8('evaluate'), utf8('out of memory'))

  if (!toolIn) return error(utf8('tool_name'), utf8('buffer outside memory'))
  let bad = invalidUtf8At(tool, toolLen)
  if (bad >= 0) {
    beginError(utf8('tool_name'), utf8('invalid utf-8 at byte '))
    putDecimal(<u64>bad)
    return endError()
  }

  if (!argsIn) return error(utf8('arguments JSON'), utf8('buffer outside memory'))
  if (!validate(args, argsLen)) return jsonError(utf8('arguments JSON'))
  setSource(0, rootStart, rootEnd)

  if (!ctxIn) return error(utf8('context JSON'), utf8('buffer outside memory'))
  if (!validate(ctx, ctxLen)) return jsonError(utf8('context JSON'))
  if (load<u8>(rootStart) != 0x7b) return error(utf8('context JSON'), utf8('not an object'))
  readContext(rootStart, rootEnd)
  if (roleEnd == 0) return error(utf8('context JSON'), utf8('role is missing'))
  if (load<u8>(roleStart) != 0x22) return error(utf8('context JSON'), utf8('role is not a string'))

  let role = roleStart + 1
  let roleLen = roleEnd - roleStart - 2
  if (roleEscaped) {
    role = scratch(<u64>roleLen)
    if (role == 0) return error(utf8('evaluate'), utf8('out of memory'))
    roleLen = unescapeInto(role, roleStart + 1, roleEnd - 1)
  }

  let entry = probe(tool, toolLen, role, roleLen)
  if (entry == 0) return respond(header(Header.DefaultAction) == 1, Outcome.NoRule, tool, toolLen, role, roleLen)
  let cond = <usize>entryField(entry, EntryField.CondPtr)
  if (cond == 0) return respond(true, Outcome.NoCondition, tool, toolLen, role, roleLen)
  let passed = judge(resolveReads(cond, sources))
  // Scratch ran out comparing values: the answer above cannot be trusted.
  if (outOfMemory) return error(utf8('evaluate'), utf8('out of memory'))
  return respond(passed, passed ? Outcome.Passed : Outcome.Failed, tool, toolLen, role, roleLen)
}

/** Entries start right after the 64-byte header (docs/design.md "The policy blob"). */
const ENTRIES_AT: usize = 64
const ENTRY_BYTES: usize = 20
/** Not a condition address: there is no such entry (0 is an entry without condition). */
const NO_ENTRY: usize = 1
/** The index that asks for the answer when the table has no entry: the default action. */
const NO_RULE: u32 = 0xffffffff

/**
 * `evaluate_fields` (docs/design.md "The fields export"): the condition of table
 * entry `index` (metadata order) on values the host looked up itself. `table`
 * holds one (u32 ptr, u32 len) per read of the condition, in metadata order, each
 * a JSON text, len 0 for an absent field. Answers `A` (Allow), or `D` (Deny) then
 * the account of the failed check, else an `{"error"}` response. Index
 * 0xFFFFFFFF (no entry) answers the default action, `A` or `D`, reading no table.
 */
export function decideFields(index: u32, table: usize): usize {
  let policy = hasPolicy()
  let first = <usize>__perso_policy + ENTRIES_AT
  let cond = NO_ENTRY
  if (policy && <u64>index * ENTRY_BYTES < <u64>(<usize>header(Header.TablePtr) - first)) {
    cond = <usize>entryField(first + <usize>index * ENTRY_BYTES, EntryField.CondPtr)
  }
  let count = cond > NO_ENTRY ? load<u32>(cond) : 0
  let floor = valuesEnd(table, count)
  beginCall(floor)
  if (policy && index == NO_RULE) return header(Header.DefaultAction) == 1 ? ALLOW : DENY
  if (cond == NO_ENTRY || floor == 0) return error(utf8('evaluate_fields'), utf8('invalid input'))
  if (cond == 0) return fieldsAnswer(true)
  let root = startReads(cond)
  for (let r: u32 = 0; root != 0 && r < count; r++) {
    let len = <usize>load<u32>(table + <usize>r * 8, 4)
    if (len == 0) continue
    if (!validate(<usize>load<u32>(table + <usize>r * 8), len)) return error(utf8('evaluate_fields'), utf8('invalid input'))
    setValue(r, rootStart, rootEnd)
  }
  let passed = judge(root)
  if (outOfMemory) return error(utf8('evaluate'), utf8('out of memory'))
  return fieldsAnswer(passed)
}

/**
 * End of the values table and of every value it points at, to keep scratch
 * above them; 0 when any is outside memory. An absent value (len 0) is not
 * read, so it may point anywhere. `table` is an address `alloc` gave, never 0.
 */
function valuesEnd(table: usize, count: u32): u64 {
  let end = endIfInMemory(table, <usize>count << 3)
  for (let r: u32 = 0; end != 0 && r < count; r++) {
    let len = <usize>load<u32>(table + <usize>r * 8, 4)
    if (len == 0) continue
    let value = endIfInMemory(<usize>load<u32>(table + <usize>r * 8), len)
    end = value == 0 ? 0 : max(end, value)
  }
  return end
}

/** The answers `A` and `D` without account, which never change: kept in static data, not written at every call. */
const ALLOW: usize = memory.data<u8>([1, 0, 0, 0, 0x41])
const DENY: usize = memory.data<u8>([1, 0, 0, 0, 0x44])

/** `A`, or `D` and the account as plain UTF-8: the fields export answers no JSON. */
function fieldsAnswer(passed: bool): usize {
  if (passed) return ALLOW
  begin()
  plain = true
  putText(utf8('D'))
  if (failure != Failure.Holds && failedNode != 0) writeAccount()
  return finish()
}

function setSource(index: usize, start: usize, end: usize): void {
  store<u32>(sources + index * 8, start)
  store<u32>(sources + index * 8, end, 4)
}

/** Records the last `role`, `agent_attrs` and `resource_attrs` of the context object. */
function readContext(start: usize, end: usize): void {
  roleEnd = 0
  setSource(1, 0, 0)
  setSource(2, 0, 0)
  for (let p = nextMember(start + 1, end, true); p != 0; p = nextMember(p, end, true)) {
    if (keyIs(utf8('role'))) {
      roleStart = valueStart
      roleEnd = valueEnd
      roleEscaped = stringEscaped
    } else if (keyIs(utf8('agent_attrs'))) setSource(1, valueStart, valueEnd)
    else if (keyIs(utf8('resource_attrs'))) setSource(2, valueStart, valueEnd)
  }
}

/** True when the current member's key, unescaped, is `text` (made by `utf8('…')`). */
function keyIs(text: usize): bool {
  return keyEquals(text + 1, load<u8>(text))
}

function respond(allow: bool, outcome: Outcome, tool: usize, toolLen: usize, role: usize, roleLen: usize): usize {
  begin()
  putText(allow ? utf8('{"decision":"Allow","reason":"') : utf8('{"decision":"Deny","reason":"'))
  // "no " then the text the other outcomes share: 19 bytes less in every artifact.
  if (outcome == Outcome.NoRule) putText(utf8('no '))
  putText(utf8("rule matched tool '"))
  putEscaped(tool, toolLen)
  putText(utf8("' for role '"))
  putEscaped(role, roleLen)
  if (outcome == Outcome.NoRule) putText(utf8("'; applying default_action"))
  else if (outcome == Outcome.NoCondition) putText(utf8("'; no condition required"))
  else if (outcome == Outcome.Passed) putText(utf8("'; condition passed"))
  else {
    putText(utf8("'; condition failed"))
    if (failure != Failure.Holds && failedNode != 0) {
      putText(utf8(': '))
      writeAccount()
    }
  }
  putText(utf8('"}'))
  return finish()
}

function jsonError(input: usize): usize {
  if (errorCode == JsonError.Empty) return error(input, utf8('empty input'))
  beginError(input, jsonMessage(errorCode))
  putText(utf8(' at byte '))
  putDecimal(<u64>errorAt)
  return endError()
}

function jsonMessage(code: JsonError): usize {
  switch (code) {
    case JsonError.UnexpectedEnd:
      return utf8('unexpected end of input')
    case JsonError.ExpectedValue:
      return utf8('expected a value')
    case JsonError.ExpectedKey:
      return utf8('expected a string key')
    case JsonError.ExpectedColon:
      return utf8("expected ':'")
    case JsonError.ExpectedCommaOrBrace:
      return utf8("expected ',' or '}'")
    case JsonError.ExpectedCommaOrBracket:
      return utf8("expected ',' or ']'")
    case JsonError.Trailing:
      return utf8('trailing characters')
    case JsonError.InvalidEscape:
      return utf8('invalid escape')
    case JsonError.LoneSurrogate:
      return utf8('lone surrogate in string')
    case JsonError.InvalidUtf8:
      return utf8('invalid utf-8 in string')
    case JsonError.ControlCharacter:
      return utf8('control character in string')
    case JsonError.InvalidNumber:
      return utf8('invalid number')
    case JsonError.NumberOutOfRange:
      return utf8('number out of range')
    case JsonError.TooDeep:
      return utf8('nesting deeper than 128')
  }
  return utf8('invalid JSON')
}
