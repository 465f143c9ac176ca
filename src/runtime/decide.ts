// One decision, in the order of docs/design.md "Evaluation order in the runtime":
// check the three inputs, probe the table, run the condition, write the response.

import { EntryField, Header, entryField, header } from './blob'
import { explain, failedNode, Failure, failure, holds, resolveReads, writeAccount } from './interp'
import { JsonError, errorAt, errorCode, keyEnd, keyStart, nextMember, rootEnd, rootStart, validate, valueEnd, valueStart } from './json'
import { inMemory, outOfMemory, scratch } from './memory'
import { begin, beginError, endError, error, finish, putDecimal, putEscaped, putLiteral } from './response'
import { probe } from './table'
import { invalidUtf8At } from './text'
import { unescapeInto, unescapedEquals } from './unescape'

const enum Outcome {
  NoRule,
  NoCondition,
  Passed,
  Failed,
}

// Value spans found in the context, end 0 = absent.
let roleStart: usize = 0
let roleEnd: usize = 0

/**
 * Source spans for the interpreter: (start, end) u32 pairs for Arguments,
 * AgentAttributes and ResourceAttributes, in call scratch.
 */
let sources: usize = 0

export function decide(tool: usize, toolLen: usize, args: usize, argsLen: usize, ctx: usize, ctxLen: usize): usize {
  sources = scratch(24)
  if (sources == 0) return error('evaluate', 'out of memory')

  if (!inMemory(tool, toolLen)) return error('tool_name', 'buffer outside memory')
  let bad = invalidUtf8At(tool, toolLen)
  if (bad >= 0) {
    beginError('tool_name', 'invalid utf-8 at byte ')
    putDecimal(<u64>bad)
    return endError()
  }

  if (!inMemory(args, argsLen)) return error('arguments JSON', 'buffer outside memory')
  if (!validate(args, argsLen)) return jsonError('arguments JSON')
  setSource(0, rootStart, rootEnd)

  if (!inMemory(ctx, ctxLen)) return error('context JSON', 'buffer outside memory')
  if (!validate(ctx, ctxLen)) return jsonError('context JSON')
  if (load<u8>(rootStart) != 0x7b) return error('context JSON', 'not an object')
  readContext(rootStart, rootEnd)
  if (roleEnd == 0) return error('context JSON', 'role is missing')
  if (load<u8>(roleStart) != 0x22) return error('context JSON', 'role is not a string')

  let role = scratch(<u64>(roleEnd - roleStart))
  if (role == 0) return error('evaluate', 'out of memory')
  let roleLen = unescapeInto(role, roleStart + 1, roleEnd - 1)

  let entry = probe(tool, toolLen, role, roleLen)
  if (entry == 0) return respond(header(Header.DefaultAction) == 1, Outcome.NoRule, tool, toolLen, role, roleLen)
  let cond = <usize>entryField(entry, EntryField.CondPtr)
  if (cond == 0) return respond(true, Outcome.NoCondition, tool, toolLen, role, roleLen)
  let root = resolveReads(cond, sources)
  let passed = root != 0 && holds(root)
  if (!passed && root != 0) explain(root)
  // Scratch ran out comparing values: the answer above cannot be trusted.
  if (outOfMemory) return error('evaluate', 'out of memory')
  return respond(passed, passed ? Outcome.Passed : Outcome.Failed, tool, toolLen, role, roleLen)
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
  // The three key names as UTF-8, to compare unescaped keys against.
  let names = scratch(32)
  if (names == 0) return
  let role = names
  let agent = names + ascii(role, 'role')
  let resource = agent + ascii(agent, 'agent_attrs')
  ascii(resource, 'resource_attrs')
  for (let p = nextMember(start + 1, end, true); p != 0; p = nextMember(p, end, true)) {
    if (unescapedEquals(keyStart, keyEnd, role, 4)) {
      roleStart = valueStart
      roleEnd = valueEnd
    } else if (unescapedEquals(keyStart, keyEnd, agent, 11)) setSource(1, valueStart, valueEnd)
    else if (unescapedEquals(keyStart, keyEnd, resource, 14)) setSource(2, valueStart, valueEnd)
  }
}

/** Writes an ASCII literal's bytes at `dst`; returns their count. */
function ascii(dst: usize, s: string): usize {
  let n = <usize>s.length
  let chars = changetype<usize>(s)
  for (let i: usize = 0; i < n; i++) store<u8>(dst + i, load<u16>(chars + (i << 1)))
  return n
}

function respond(allow: bool, outcome: Outcome, tool: usize, toolLen: usize, role: usize, roleLen: usize): usize {
  begin()
  putLiteral('{"decision":"')
  putLiteral(allow ? 'Allow' : 'Deny')
  putLiteral('","reason":"')
  putLiteral(outcome == Outcome.NoRule ? "no rule matched tool '" : "rule matched tool '")
  putEscaped(tool, toolLen)
  putLiteral("' for role '")
  putEscaped(role, roleLen)
  if (outcome == Outcome.NoRule) putLiteral("'; applying default_action")
  else if (outcome == Outcome.NoCondition) putLiteral("'; no condition required")
  else if (outcome == Outcome.Passed) putLiteral("'; condition passed")
  else {
    putLiteral("'; condition failed")
    if (failure != Failure.Holds && failedNode != 0) {
      putLiteral(': ')
      writeAccount()
    }
  }
  putLiteral('"}')
  return finish()
}

function jsonError(input: string): usize {
  if (errorCode == JsonError.Empty) return error(input, 'empty input')
  beginError(input, jsonMessage(errorCode))
  putLiteral(' at byte ')
  putDecimal(<u64>errorAt)
  return endError()
}

function jsonMessage(code: JsonError): string {
  switch (code) {
    case JsonError.UnexpectedEnd:
      return 'unexpected end of input'
    case JsonError.ExpectedValue:
      return 'expected a value'
    case JsonError.ExpectedKey:
      return 'expected a string key'
    case JsonError.ExpectedColon:
      return "expected ':'"
    case JsonError.ExpectedCommaOrBrace:
      return "expected ',' or '}'"
    case JsonError.ExpectedCommaOrBracket:
      return "expected ',' or ']'"
    case JsonError.Trailing:
      return 'trailing characters'
    case JsonError.InvalidEscape:
      return 'invalid escape'
    case JsonError.LoneSurrogate:
      return 'lone surrogate in string'
    case JsonError.InvalidUtf8:
      return 'invalid utf-8 in string'
    case JsonError.ControlCharacter:
      return 'control character in string'
    case JsonError.InvalidNumber:
      return 'invalid number'
    case JsonError.NumberOutOfRange:
      return 'number out of range'
    case JsonError.TooDeep:
      return 'nesting deeper than 128'
  }
  return 'invalid JSON'
}
