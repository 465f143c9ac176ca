// One decision (docs/design.md "Evaluation order in the runtime"). The request
// comes as JSON texts (`evaluate`) or as the values the host looked up
// (`evaluate_values`); from the table probe on, both take the one path below,
// so they answer the same bytes for the same request.

import { keepAnswer, keepDenyHead, keptAnswer, keptDenyHead, keptVarying } from './answers'
import { writeAccount } from './account'
import { header } from './blob'
import { Fault, fault } from './fault'
import { holds, readAt, readCountOf, readSource, setValue, startReads } from './interp'
import { JsonError, MemberIndex, errorAt, errorCode, firstMember, followingMember, keyEquals, keyStart, rootEnd, rootStart, stringEscaped, validate, valueEnd, valueStart } from './json'
import { Entry, Header, Limit, Read, Source, ValueRecord, ValuesTable } from './layout'
import { scratch } from './scratch'
import { begin, beginError, copyOf, endError, error, finish, putBytes, putDecimal, putEscaped, putText, seal } from './response'
import { Phase, STOP_AFTER } from './phase'
import { probe } from './table'
import { bytesEqual, invalidUtf8At } from './text'
import { unescapeInto } from './unescape'

const enum Outcome {
  NoRule,
  NoCondition,
  Passed,
  Failed,
}

/** Where the values of a condition's reads come from. */
const enum From {
  /** The source objects of the request's JSON texts (`evaluate`). */
  Texts,
  /** The values table the host filled (`evaluate_values`). */
  Values,
}

// ---- evaluate: the request as three JSON texts

/** `{}`, in static data: what a build for bench/phases.js answers after the phase it stops at. */
const STOPPED: usize = memory.data<u8>([2, 0, 0, 0, 0x7b, 0x7d])

/** True in a build made with `--stop-after phase` (scripts/build-runtime.js), false (and folded away) in every other. */
// @ts-ignore: decorator
@inline function stopAfter(phase: Phase): bool {
  return STOP_AFTER == phase
}

/** Spans of the source objects: Arguments, AgentAttributes, ResourceAttributes (end 0 = absent). */
let argsStart: usize = 0
let argsEnd: usize = 0
let agentStart: usize = 0
let agentEnd: usize = 0
let resourceStart: usize = 0
let resourceEnd: usize = 0
let roleStart: usize = 0
let roleEnd: usize = 0
let roleEscaped: bool = false
/** The members of the arguments object, and of the context object and its attribute objects, recorded as they are validated (json.ts `MemberIndex`). */
const ARGS_INDEX: usize = memory.data(<i32>MemberIndex.Bytes)
const CONTEXT_INDEX: usize = memory.data(<i32>MemberIndex.Bytes)

/**
 * `evaluate` on inputs the caller declared: `toolIn`, `argsIn`, `ctxIn` say
 * whether each lies inside memory. The first error wins, in the order tool
 * name, arguments, context (spec §5).
 */
export function decideTexts(tool: usize, toolLen: usize, toolIn: bool, args: usize, argsLen: usize, argsIn: bool, ctx: usize, ctxLen: usize, ctxIn: bool): usize {
  let bad = toolUtf8Error(tool, toolLen, toolIn, utf8('tool_name'))
  if (bad != 0) return bad
  if (stopAfter(Phase.Inputs)) return STOPPED
  if (!argsIn) return error(utf8('arguments JSON'), utf8('buffer outside memory'))
  if (!validate(args, argsLen, Limit.Depth, ARGS_INDEX)) return jsonError(utf8('arguments JSON'))
  argsStart = rootStart
  argsEnd = rootEnd
  if (stopAfter(Phase.Arguments)) return STOPPED
  if (!ctxIn) return error(utf8('context JSON'), utf8('buffer outside memory'))
  if (!validate(ctx, ctxLen, Limit.Depth, CONTEXT_INDEX, 2)) return jsonError(utf8('context JSON'))
  if (stopAfter(Phase.Context)) return STOPPED
  if (load<u8>(rootStart) != 0x7b) return error(utf8('context JSON'), utf8('not an object'))
  let repeated = readContext(ctx, rootStart, rootEnd)
  if (repeated != 0) return repeated
  if (roleEnd == 0) return error(utf8('context JSON'), utf8('role is missing'))
  if (load<u8>(roleStart) != 0x22) return error(utf8('context JSON'), utf8('role is not a string'))
  let role = roleStart + 1
  let roleLen = roleEnd - roleStart - 2
  if (roleEscaped) {
    role = scratch(<u64>roleLen)
    if (role == 0) return faultAnswer(utf8('evaluate'))
    roleLen = unescapeInto(role, roleStart + 1, roleEnd - 1)
  }
  if (stopAfter(Phase.Role)) return STOPPED
  let entry = probe(tool, toolLen, role, roleLen)
  if (stopAfter(Phase.Probe)) return STOPPED
  return decide(entry, tool, toolLen, role, roleLen, From.Texts)
}

/**
 * Records the `role`, `agent_attrs` and `resource_attrs` of the context object;
 * a repeated one is an input error (spec §4: two readers must never see two
 * callers), answered here; 0 otherwise.
 */
function readContext(ctx: usize, start: usize, end: usize): usize {
  roleEnd = 0
  agentEnd = 0
  resourceEnd = 0
  for (let m = firstMember(CONTEXT_INDEX, start, end); m != 0; m = followingMember(CONTEXT_INDEX, m, end)) {
    if (keyIs(utf8('role'))) {
      if (roleEnd != 0) return repeatedKey(ctx, utf8('role'))
      roleStart = valueStart
      roleEnd = valueEnd
      roleEscaped = stringEscaped
    } else if (keyIs(utf8('agent_attrs'))) {
      if (agentEnd != 0) return repeatedKey(ctx, utf8('agent_attrs'))
      agentStart = valueStart
      agentEnd = valueEnd
    } else if (keyIs(utf8('resource_attrs'))) {
      if (resourceEnd != 0) return repeatedKey(ctx, utf8('resource_attrs'))
      resourceStart = valueStart
      resourceEnd = valueEnd
    }
  }
  return 0
}

/** True when the current member's key, unescaped, is `text` (made by `utf8('…')`). */
function keyIs(text: usize): bool {
  return keyEquals(text + 1, load<u8>(text))
}

/** `context JSON: <key> is repeated at byte N`, N where the repeated key starts. */
function repeatedKey(ctx: usize, key: usize): usize {
  beginError(utf8('context JSON'), key)
  putText(utf8(' is repeated at byte '))
  putDecimal(<u64>(keyStart - 1 - ctx))
  return endError()
}

// ---- evaluate_values: the values the host looked up for the entry's reads

/** The values table at `table`: `count` records, each inside memory (checked by the caller). */
let table: usize = 0

/**
 * `evaluate_values` (docs/design.md "The values export") on inputs the caller
 * declared: the tool name and the role as UTF-8, and a table of the values of
 * the entry's reads, each claimed by source and field name.
 */
export function decideValues(tool: usize, toolLen: usize, toolIn: bool, role: usize, roleLen: usize, roleIn: bool, values: usize, valuesIn: bool): usize {
  // Names equal to an entry's are the blob's own UTF-8: only names no entry has are checked.
  let entry = toolIn && roleIn ? probe(tool, toolLen, role, roleLen) : 0
  if (entry == 0) {
    let bad = toolUtf8Error(tool, toolLen, toolIn, utf8('tool_name'))
    if (bad == 0) bad = toolUtf8Error(role, roleLen, roleIn, utf8('role'))
    if (bad != 0) return bad
  }
  if (!valuesIn) return error(utf8('evaluate_values'), utf8('values table outside memory'))
  table = values
  return decide(entry, tool, toolLen, role, roleLen, From.Values)
}

/**
 * Sets each read's value from the table; an error response when the table does
 * not claim exactly the entry's reads (checked whole first), or a value is not
 * one JSON text nested as the request's own text could hold it.
 */
function readValues(): usize {
  let count = readCountOf()
  if (load<u32>(table, ValuesTable.Count) != count) return valuesMismatch(count)
  for (let r: u32 = 0; r < count; r++) if (!claims(record(r), readAt(r))) return valuesMismatch(count)
  for (let r: u32 = 0; r < count; r++) {
    let len = <usize>load<u32>(record(r), ValueRecord.ValueLen)
    if (len == 0) continue
    let value = <usize>load<u32>(record(r), ValueRecord.ValuePtr)
    // An argument sits one level inside the arguments object, an attribute two inside the context.
    let levels = load<u32>(readAt(r), Read.Source) == Source.Arguments ? Limit.Depth - 1 : Limit.Depth - 2
    if (!validate(value, len, levels)) {
      beginError(utf8('evaluate_values'), utf8('value '))
      putDecimal(<u64>r)
      putText(utf8(' is not one JSON text at byte '))
      putDecimal(<u64>errorAt)
      return endError()
    }
    setValue(r, rootStart, rootEnd)
  }
  return 0
}

function record(r: u32): usize {
  return table + ValuesTable.Records + <usize>r * ValueRecord.Size
}

/** True when the table's `record` claims the blob's `read`: its source and field name. */
function claims(record: usize, read: usize): bool {
  let nameLen = <usize>load<u32>(read, Read.FieldLen)
  return (
    load<u32>(record, ValueRecord.Source) == load<u32>(read, Read.Source) &&
    <usize>load<u32>(record, ValueRecord.NameLen) == nameLen &&
    bytesEqual(load<u32>(record, ValueRecord.NamePtr), load<u32>(read, Read.FieldPtr), nameLen)
  )
}

/**
 * The refusal of a table that does not claim the entry's reads, with the reads
 * it must claim (`[source code, field]` each, none for a pair without entry or
 * condition): a host learns them from the blob itself, never from anything else.
 */
function valuesMismatch(reads: u32): usize {
  beginError(utf8('evaluate_values'), utf8("the values do not claim the entry's reads"))
  putText(utf8('","reads":['))
  for (let r: u32 = 0; r < reads; r++) {
    let read = readAt(r)
    if (r > 0) putText(utf8(','))
    putText(utf8('['))
    putDecimal(<u64>load<u32>(read, Read.Source))
    putText(utf8(',"'))
    putEscaped(load<u32>(read, Read.FieldPtr), load<u32>(read, Read.FieldLen))
    putText(utf8('"]'))
  }
  putText(utf8(']}'))
  return finish()
}

// ---- The one path

/** The decision on (tool, role), whose entry is `entry` (0: none), with the values of the entry's reads taken `from` the request's texts or the values table. */
function decide(entry: usize, tool: usize, toolLen: usize, role: usize, roleLen: usize, from: From): usize {
  let cond: usize = entry == 0 ? 0 : <usize>load<u32>(entry, Entry.CondPtr)
  // The table must claim exactly the entry's reads: none for a pair without condition.
  if (from == From.Values && cond == 0 && load<u32>(table, ValuesTable.Count) != 0) return valuesMismatch(0)
  if (entry == 0) {
    writeReason(header(Header.DefaultAction) == 1, Outcome.NoRule, tool, toolLen, role, roleLen)
    return fault != Fault.None ? faultAnswer(exportName(from)) : varying(entry, from)
  }
  if (cond == 0) return allow(entry, Outcome.NoCondition, tool, toolLen, role, roleLen, from)
  let root = startReads(cond)
  if (root == 0) return faultAnswer(exportName(from))
  if (from == From.Texts) {
    readSource(Source.Arguments, argsStart, argsEnd, ARGS_INDEX)
    readSource(Source.AgentAttributes, agentStart, agentEnd, CONTEXT_INDEX)
    readSource(Source.ResourceAttributes, resourceStart, resourceEnd, CONTEXT_INDEX)
    if (stopAfter(Phase.Reads)) return STOPPED
  } else {
    let refused = readValues()
    if (refused != 0) return refused
  }
  let passed = holds(root)
  if (stopAfter(Phase.Condition)) return STOPPED
  if (fault != Fault.None) return faultAnswer(exportName(from))
  if (passed) return allow(entry, Outcome.Passed, tool, toolLen, role, roleLen, from)
  // The Deny's head is the entry's own, kept after its first failure (answers.ts): only the account is written per call.
  begin()
  let head = keptDenyHead(entry)
  if (head != 0) putBytes(head + 4, load<u32>(head))
  else {
    writeHead(false, Outcome.Failed, tool, toolLen, role, roleLen)
    let written = seal()
    if (written != 0) keepDenyHead(entry, written)
  }
  writeAccount(root)
  putText(utf8('"}'))
  // Explaining a failure decides its checks again: a fault there is the answer too.
  return fault != Fault.None ? faultAnswer(exportName(from)) : varying(entry, from)
}

/**
 * The response just written, whose bytes vary by call (a failed condition's
 * Deny; a pair without an entry): `evaluate_values` answers it from the kept
 * answers when it is one of them (answers.ts), as it does an Allow; else it
 * is a response of its own.
 */
function varying(entry: usize, from: From): usize {
  let written = from == From.Values ? seal() : 0
  let kept = written == 0 ? 0 : keptVarying(entry, written)
  return kept != 0 ? kept : finish()
}

/**
 * The Allow answer of `entry`: built on its first Allow and kept (answers.ts);
 * `evaluate_values` answers the kept bytes, `evaluate` a copy of them.
 */
function allow(entry: usize, outcome: Outcome, tool: usize, toolLen: usize, role: usize, roleLen: usize, from: From): usize {
  let kept = keptAnswer(entry)
  if (kept == 0) {
    writeReason(true, outcome, tool, toolLen, role, roleLen)
    if (fault != Fault.None) return faultAnswer(exportName(from))
    let written = seal()
    kept = written == 0 ? 0 : keepAnswer(entry, written)
    // No room left to keep it: answered like any response.
    if (kept == 0) return finish()
  }
  return from == From.Values ? kept : copyOf(kept)
}

/** Writes the whole response with spec §4's reason for an outcome that has no account. */
function writeReason(allow: bool, outcome: Outcome, tool: usize, toolLen: usize, role: usize, roleLen: usize): void {
  begin()
  writeHead(allow, outcome, tool, toolLen, role, roleLen)
  putText(utf8('"}'))
}

/** The response up to the end of its reason, or, for a failed condition, up to where the account starts. */
function writeHead(allow: bool, outcome: Outcome, tool: usize, toolLen: usize, role: usize, roleLen: usize): void {
  putText(allow ? utf8('{"decision":"Allow","reason":"') : utf8('{"decision":"Deny","reason":"'))
  putText(outcome == Outcome.NoRule ? utf8("no rule matched tool '") : utf8("rule matched tool '"))
  putEscaped(tool, toolLen)
  putText(utf8("' for role '"))
  putEscaped(role, roleLen)
  if (outcome == Outcome.NoRule) putText(utf8("'; applying default_action"))
  else if (outcome == Outcome.NoCondition) putText(utf8("'; no condition required"))
  else if (outcome == Outcome.Passed) putText(utf8("'; condition passed"))
  else putText(utf8("'; condition failed: "))
}

/** The error for the call's fault, named by the export that was called (`utf8('…')`): it never turns into a decision. */
export function faultAnswer(export_: usize): usize {
  if (fault == Fault.Corrupt) return error(export_, utf8('the policy in this artifact is corrupt; recompile it with perso compile'))
  if (fault == Fault.Limit) return error(export_, utf8('a number is too long to read exactly'))
  return error(export_, utf8('out of memory'))
}

function exportName(from: From): usize {
  return from == From.Texts ? utf8('evaluate') : utf8('evaluate_values')
}

// ---- Input errors

/** The error for a name that is outside memory or not UTF-8, or 0 when it is fine. */
function toolUtf8Error(p: usize, len: usize, inside: bool, input: usize): usize {
  if (!inside) return error(input, utf8('buffer outside memory'))
  let bad = invalidUtf8At(p, len)
  if (bad < 0) return 0
  beginError(input, utf8('invalid utf-8 at byte '))
  putDecimal(<u64>bad)
  return endError()
}

export function jsonError(input: usize): usize {
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
      return utf8('nested 128 levels deep or more')
  }
  return utf8('invalid JSON')
}
