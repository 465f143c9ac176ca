// "did you mean `Lte`?": how a near miss is answered. A name that is a known
// way of writing one of ours (`<=`, `Le`, `Or`) is looked up first, so the
// answer keeps its meaning; edit distance comes only after, and never crosses
// a negation (`Neq` is one edit from `Eq`, `note` one from `Not`).

/**
 * Edit distance counting a swap of two adjacent characters as one edit
 * (optimal string alignment), case-insensitive: `agnet` is one edit from `agent`.
 */
function distance(a: string, b: string): number {
  const x = a.toLowerCase()
  const y = b.toLowerCase()
  const rows: number[][] = [Array.from({ length: y.length + 1 }, (_, j) => j)]
  for (let i = 1; i <= x.length; i++) {
    const row = [i]
    for (let j = 1; j <= y.length; j++) {
      const cost = x[i - 1] === y[j - 1] ? 0 : 1
      let best = Math.min(rows[i - 1]![j]! + 1, row[j - 1]! + 1, rows[i - 1]![j - 1]! + cost)
      if (i > 1 && j > 1 && x[i - 1] === y[j - 2] && x[i - 2] === y[j - 1]) best = Math.min(best, rows[i - 2]![j - 2]! + 1)
      row.push(best)
    }
    rows.push(row)
  }
  return rows[x.length]![y.length]!
}

const NEGATION_WORDS = new Set([
  'not', 'no', 'non', 'none', 'nor', 'ne', 'neq', 'nin', 'never', 'without', 'unless', 'except',
  'exclude', 'excludes', 'excluding', 'absent', 'missing', 'unequal', 'different', 'differs',
])

/** `NotIn`, `not_equal`, `NOTIN`, `Neq`, `!=`: a name that says "not". `note` and `nothing` do not. */
export function negates(name: string): boolean {
  if (/!|<>|≠/.test(name)) return true
  const words = name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w !== '')
  return words.some((w) => NEGATION_WORDS.has(w) || /^(not(?!e|hing|ation|ice|able)|non)./.test(w))
}

/** The candidate closest to `name` when it is close enough to be a typo, else undefined; never one that negates where `name` does not, or the reverse. */
export function closest(name: string, candidates: Iterable<string>): string | undefined {
  const polarity = negates(name)
  let best: string | undefined
  let bestDistance = Infinity
  for (const candidate of candidates) {
    if (candidate === name || negates(candidate) !== polarity) continue
    const d = distance(name, candidate)
    if (d < bestDistance) {
      best = candidate
      bestDistance = d
    }
  }
  const allowed = Math.max(1, Math.floor(name.length / 3))
  return best !== undefined && bestDistance <= allowed ? best : undefined
}

/**
 * What a name the user wrote means when it is a known way of writing one of
 * ours: the name meant (with a gloss that says its meaning), or, when there is
 * no such name, a sentence saying how to write it.
 */
export type Alias = { meant: string; gloss?: string } | { help: string }
/** Aliases by normalised spelling (see `normalise`); an entry lists alternatives, the first that fits wins. */
export type Aliases = ReadonlyMap<string, readonly Alias[]>

/** `Less_Than`, `less-than`, `LESS THAN` → `lessthan`; `<=` stays `<=`. */
const normalise = (name: string): string => name.trim().toLowerCase().replace(/[\s_\-.]+/g, '')

function aliases(table: Record<string, string[] | Alias | Alias[]>): Aliases {
  const map = new Map<string, Alias[]>()
  for (const [meaning, spellings] of Object.entries(table)) {
    // `{ Lte: ['le', '<=', …] }` maps spellings to a name; `{ 'ne !=': { help } }` maps space-separated spellings to alternatives.
    const [names, alias] = Array.isArray(spellings) && typeof spellings[0] === 'string'
      ? [spellings as string[], [{ meant: meaning }]]
      : [meaning.split(' '), Array.isArray(spellings) ? (spellings as Alias[]) : [spellings as Alias]]
    for (const name of names) map.set(normalise(name), [...(map.get(normalise(name)) ?? []), ...alias])
  }
  return map
}

/** The alias of `name` that fits `candidates` (a `meant` among them, or a help), if any. */
export function aliasOf(name: string, table: Aliases | undefined, candidates: readonly string[]): Alias | undefined {
  return table?.get(normalise(name))?.find((a) => !('meant' in a) || (candidates.includes(a.meant) && a.meant !== name))
}

const GLOSSES: Record<string, string> = {
  Lt: 'less than', Lte: 'less than or equal', Gt: 'greater than', Gte: 'greater than or equal', Eq: 'equal',
  In: 'is one of', NotIn: 'is none of', All: 'every condition holds', Any: 'at least one condition holds',
  Not: 'the condition does not hold', NumericCheck: 'compares a number', StringCheck: 'a string is or is not one of a list',
  FieldPresent: 'the field is present and not `null`', FieldEquals: 'two fields are equal',
}

const meantHelp = (meant: string): string => `did you mean \`${meant}\`${GLOSSES[meant] !== undefined ? ` (${GLOSSES[meant]})` : ''}?`

/**
 * Help for `name`, which is not one of `candidates`: the candidate it is when
 * only its case differs; else what `aliases` say it means; else the closest
 * candidate by edit distance; else the list of valid values.
 */
export function helpFor(name: string, candidates: readonly string[], table?: Aliases): string {
  const sameLetters = candidates.find((c) => c !== name && c.toLowerCase() === name.trim().toLowerCase())
  if (sameLetters !== undefined) return `did you mean \`${sameLetters}\`?`
  const alias = aliasOf(name, table, candidates)
  if (alias !== undefined) return 'meant' in alias ? meantHelp(alias.meant) : alias.help
  const near = closest(name, candidates)
  if (near !== undefined) return `did you mean \`${near}\`?`
  return `expected one of ${candidates.map((c) => `\`${c}\``).join(', ')}`
}

// ---------------------------------------------------------------------------
// What people write instead of the policy's names

const NUMERIC_NAMES = {
  Lt: ['lt', '<', 'less', 'lessthan', 'below', 'under', 'smaller', 'smallerthan', 'fewerthan'],
  Lte: ['le', 'lte', 'leq', 'lessequal', 'lessequals', 'lessorequal', 'lessorequals', 'lessthanorequal',
    'lessthanorequalto', 'lessthanequal', 'lessthanequals', '<=', '=<', '≤', 'atmost', 'notmorethan', 'notgreaterthan', 'ngt'],
  Gt: ['gt', '>', 'greater', 'greaterthan', 'above', 'over', 'morethan', 'bigger', 'biggerthan', 'larger', 'largerthan'],
  Gte: ['ge', 'gte', 'geq', 'greaterequal', 'greaterequals', 'greaterorequal', 'greaterorequals', 'greaterthanorequal',
    'greaterthanorequalto', 'greaterthanequal', 'greaterthanequals', '>=', '=>', '≥', 'atleast', 'notlessthan', 'nlt'],
  Eq: ['eq', '=', '==', '===', 'equal', 'equals', 'equalto', 'isequal', 'isequalto', 'eql', 'is', 'same'],
}
const NOT_EQUAL = 'ne neq nq noteq notequal notequals notequalto isnot isnotequal unequal different differs != !== <> ≠'
const STRING_NAMES = {
  In: ['in', 'isin', 'oneof', 'anyof', 'isoneof', 'inlist', 'within', 'includedin', 'memberof', 'ismemberof', 'among'],
  NotIn: ['notin', 'nin', '!in', 'isnotin', 'notoneof', 'noneof', 'isnoneof', 'notinlist', 'notwithin', 'notincludedin',
    'notmemberof', 'excluding', 'exclude', 'excludes', 'notamong'],
}
const PATTERN_OPS = 'contains includes has startswith endswith prefix suffix matches match regex regexp like glob substring ' +
  'notcontains doesnotcontain excludessubstring notmatches notlike'

/** `op` of a NumericCheck. */
export const NUMERIC_OP_ALIASES = aliases({
  ...NUMERIC_NAMES,
  [NOT_EQUAL]: { help: 'there is no `Neq`: wrap an `Eq` check in `Not`, `{"Not": {"NumericCheck": {…, "op": "Eq", …}}}`, which also holds when the field is missing or not a number' },
  [[...STRING_NAMES.In, ...STRING_NAMES.NotIn].join(' ')]: { help: '`In` and `NotIn` are ops of `StringCheck`; `NumericCheck` takes `Lt`, `Lte`, `Gt`, `Gte` or `Eq`' },
  'between range inrange': { help: 'there is no `Between`: write `{"All": [{"NumericCheck": {…, "op": "Gte", …}}, {"NumericCheck": {…, "op": "Lte", …}}]}`' },
})

/** `op` of a StringCheck. */
export const STRING_OP_ALIASES = aliases({
  ...STRING_NAMES,
  'eq = == === equal equals equalto is isequal same': { help: 'to compare with one string, write `"op": "In", "value": ["…"]`' },
  [NOT_EQUAL]: { help: 'to require a string other than one value, write `"op": "NotIn", "value": ["…"]` (a missing field fails it)' },
  [PATTERN_OPS]: { help: 'perso compares whole strings only: `In` holds when the field equals one of `value`, `NotIn` when it equals none' },
  [Object.values(NUMERIC_NAMES).flat().join(' ')]: { help: 'that is a comparison of numbers: use a `NumericCheck`; `StringCheck` takes `In` or `NotIn`' },
})

const NOTES_HELP = 'notes go in `description`, `$comment` or a key starting with `x-`'

/** The key of a condition form (E023). */
export const FORM_ALIASES = aliases({
  All: ['and', 'allof', 'every', 'both', '&&', '&'],
  Any: ['or', 'anyof', 'some', 'either', '||', '|'],
  Not: ['!', 'negate', 'negation', 'invert'],
  NumericCheck: ['numeric', 'number', 'numbercheck', 'numcheck', 'num', 'numericcompare', 'numbercompare', 'compare', 'comparison', 'numericcondition'],
  StringCheck: ['string', 'stringin', 'strcheck', 'str', 'stringcompare', 'stringcondition', 'in', 'isin', 'oneof'],
  FieldPresent: ['present', 'presence', 'exists', 'exist', 'fieldexists', 'has', 'hasfield', 'isset', 'defined', 'isdefined',
    'notnull', 'isnotnull', 'nonnull', 'required', 'fieldrequired'],
  FieldEquals: ['equals', 'equal', 'eq', 'fieldequal', 'fieldsequal', 'fieldsequals', 'fieldeq', 'same', 'match', 'matches', 'fieldmatch', 'fieldsmatch'],
  'xor exactlyone onlyone': { help: 'there is no exactly-one form: `Any` holds when at least one condition holds' },
  'nor none noneof notany': { help: 'for "none of", wrap an `Any` in `Not`: `{"Not": {"Any": […]}}`' },
  'nand notall notboth': { help: 'for "not all of", wrap an `All` in `Not`: `{"Not": {"All": […]}}`' },
  'notin stringnotin': { help: '`NotIn` is an op: write `{"StringCheck": {…, "op": "NotIn", "value": […]}}`' },
  'absent missing notpresent fieldabsent fieldmissing notexists notexist isnull null undefined isundefined': {
    help: 'there is no `FieldAbsent`: wrap a `FieldPresent` in `Not`, which holds when the field is missing or `null`',
  },
  'notequal notequals fieldnotequal fieldnotequals fieldsdiffer fieldsdifferent neq ne !=': {
    help: 'there is no `FieldNotEquals`: wrap a `FieldEquals` in `Not`, which also holds when either field is missing or `null`',
  },
  'note notes comment comments desc doc docs remark remarks todo': { help: `${NOTES_HELP}; a condition needs one form` },
})

/** `default_action`. */
export const ACTION_ALIASES = aliases({
  Allow: ['permit', 'permitted', 'allowed', 'grant', 'granted', 'accept', 'yes'],
  Deny: ['denied', 'forbid', 'forbidden', 'reject', 'refuse', 'block', 'drop', 'no'],
})

/** `source`, `source_a`, `source_b`. */
export const SOURCE_ALIASES = aliases({
  Arguments: ['args', 'arg', 'argument', 'params', 'parameters', 'param', 'input', 'inputs', 'toolargs', 'toolarguments', 'request', 'call'],
  AgentAttributes: ['agent', 'agentattrs', 'agentattr', 'agentattribute', 'caller', 'session', 'user', 'subject', 'principal', 'identity'],
  ResourceAttributes: ['resource', 'resourceattrs', 'resourceattr', 'resourceattribute', 'object', 'target', 'record'],
  'context ctx': { help: 'the context\'s fields are in `AgentAttributes` (`agent_attrs`) or `ResourceAttributes` (`resource_attrs`)' },
  role: { help: 'a condition does not read the role: a rule\'s `roles` say which roles it applies to' },
})

/** Keys of a policy, a rule or a condition's body; an alias applies only where the name it means is a key. */
export const KEY_ALIASES = aliases({
  condition: ['when', 'if', 'where', 'conditions', 'require', 'requires', 'requirement', 'constraint', 'constraints', 'check'],
  tool_name: ['tool', 'toolname', 'tools', 'name'],
  roles: ['role', 'who', 'principals'],
  default_action: ['default', 'defaultaction', 'defaultdecision', 'default_effect', 'effect', 'action'],
  op: ['operator', 'operation', 'comparison', 'compare', 'cmp', 'opcode'],
  value: ['values', 'val', 'threshold', 'limit', 'list', 'allowed', 'options', 'one_of', 'oneof'],
  field: ['key', 'name', 'attribute', 'attr', 'property', 'prop', 'path'],
  'effect action decision allow deny': { help: 'a rule has no effect of its own: it allows when its condition holds and denies when it fails; `default_action` decides the pairs no rule covers' },
  'negate negated not invert inverted inverse': { help: 'to negate a condition, wrap it in `Not`: `{"Not": {…}}`' },
  'note notes comment comments desc doc docs remark remarks todo': { help: NOTES_HELP },
})

/** Help for an unknown key: the key it stands for, else `did you mean`, else the keys this level knows and where notes go. */
export function keyHelp(unknown: string, known: readonly string[], candidates: readonly string[], resembles: (k: string) => boolean): string {
  const alias = aliasOf(unknown, KEY_ALIASES, candidates)
  if (alias !== undefined) return 'meant' in alias ? `did you mean \`${alias.meant}\`?` : alias.help
  const near = closest(unknown, candidates) ?? candidates.find(resembles)
  if (near !== undefined) return `did you mean \`${near}\`?`
  const keys = known.filter((k) => k !== 'description' && k !== '$comment')
  return `${keys.length > 0 ? `known keys here: ${keys.map((k) => `\`${k}\``).join(', ')}; ` : ''}${NOTES_HELP}`
}
