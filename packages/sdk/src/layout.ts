// The one table that the compiler, the runtime and hosts must agree on: the
// policy blob's layout (docs/design.md "The policy blob"), the sources, the
// values table of `evaluate_values`, and the limits. codegen imports it; the
// runtime's constants are generated from it at build time
// (scripts/build-runtime.js writes each group below as a `const enum`).
// No imports and no logic: a leaf every room may use.

/** "PRSO" in the blob's first word. */
export const BLOB_MAGIC = 0x4f535250
/** The blob's format; 2 since per-entry read tables moved into conditions' own headers and the header counts entries. */
export const BLOB_FORMAT = 2

/** Byte offsets in the blob header, at the blob's address P (all u32 unless noted). */
export const Header = {
  Magic: 0,
  Format: 4,
  /** 0 Deny, 1 Allow. */
  DefaultAction: 8,
  EntryCount: 12,
  EntriesPtr: 16,
  TablePtr: 20,
  /** Slot count − 1; the slot count is a power of two ≥ 2. */
  TableMask: 24,
  ConditionCount: 28,
  ConditionsPtr: 32,
  VersionPtr: 36,
  VersionLen: 40,
  /** u8[32]: SHA-256 of the canonical text of the policy (docs/design.md "Canonical JSON"). */
  Digest: 44,
  /** First address after the blob. */
  BlobEnd: 76,
  Size: 80,
} as const

/** An entry of the flat table (20 bytes); CondPtr 0 = the rule has no condition. */
export const Entry = { ToolPtr: 0, ToolLen: 4, RolePtr: 8, RoleLen: 12, CondPtr: 16, Size: 20 } as const

/** A table slot (8 bytes): the entry's hash and address; EntryPtr 0 = empty. */
export const Slot = { Hash: 0, EntryPtr: 4, Size: 8 } as const

/** A condition: its size in bytes (header, reads and nodes), its reads, then the root node. */
export const Condition = { Size: 0, ReadCount: 4, Reads: 8 } as const

/** One read of a condition (12 bytes): which source, which field (unescaped UTF-8). */
export const Read = { Source: 0, FieldPtr: 4, FieldLen: 8, Size: 12 } as const

/** A string ref (8 bytes): where a text of the string pool is. */
export const TextRef = { Ptr: 0, Len: 4, Size: 8 } as const

/** The first byte of every node. */
export const Op = { All: 1, Any: 2, Not: 3, Numeric: 4, In: 5, NotIn: 6, Present: 7, Equals: 8 } as const

/** ALL and ANY: op, child count, whole size (header included), label ref, then the children. */
export const CompositeNode = { Count: 1, Size: 5, Label: 9, Header: 13 } as const
/** NOT: op, whole size, label ref, then the child. */
export const NotNode = { Size: 1, Label: 5, Header: 9 } as const
/** NUMERIC: op, u16 read, u8 comparison, f64 constant, text ref. */
export const NumericNode = { Read: 1, Cmp: 3, Value: 4, Text: 12, Size: 16 } as const
/** IN and NOT_IN: op, u16 read, value count, list ptr (count text refs), text ref. */
export const InNode = { Read: 1, Count: 3, List: 7, Text: 11, Size: 15 } as const
/** PRESENT: op, u16 read. */
export const PresentNode = { Read: 1, Size: 3 } as const
/** EQUALS: op, u16 read a, u16 read b. */
export const EqualsNode = { A: 1, B: 3, Size: 5 } as const

/** NUMERIC comparisons, in the order of the policy's `op` names. */
export const Cmp = { Lt: 0, Lte: 1, Gt: 2, Gte: 3, Eq: 4 } as const

/** Where a condition reads a field, by code (the blob, the metadata and the values table use the codes). */
export const Source = { Arguments: 0, AgentAttributes: 1, ResourceAttributes: 2 } as const
export type SourceName = keyof typeof Source
/** The sources by code. */
export const SOURCES: readonly SourceName[] = ['Arguments', 'AgentAttributes', 'ResourceAttributes']

/**
 * `evaluate_values(tool_ptr, tool_len, role_ptr, role_len, values)`: `values`
 * holds a count, then one record per read of the entry's condition, in its
 * order — the read's source and field name as the host claims them, and the
 * field's value as one JSON text (ValueLen 0: absent). docs/design.md "The values export".
 */
export const ValuesTable = { Count: 0, Records: 4 } as const
export const ValueRecord = { Source: 0, NamePtr: 4, NameLen: 8, ValuePtr: 12, ValueLen: 16, Size: 20 } as const

/**
 * Where `evaluate_values` answers an Allow kept for the module's life
 * (docs/design.md "Kept answers"): at an address that is `Remainder` more than
 * a multiple of `Modulus`, which no response of its own (16-aligned) ever has.
 * The bytes there never change; `dealloc` of them is ignored.
 */
export const KeptAnswer = { Modulus: 16, Remainder: 8 } as const

export const Limit = {
  /** Nesting of this many levels or more is refused (spec §5: 127 levels are read), in JSON inputs and policies. */
  Depth: 128,
  /** Nesting of conditions in a blob the runtime follows; deeper is a corrupt blob (the depth limit bounds real ones). */
  ConditionDepth: 128,
  /** Memory pages an artifact may grow to (64 KiB each): 1 GiB. */
  MemoryPages: 16384,
  /** Host buffers never released past this many bytes together may be reclaimed (spec §6): 16 MiB. */
  BufferBudget: 16 << 20,
  /** Limbs (32 bits each) of the runtime's exact number reader; past them a call answers an error. */
  BignumLimbs: 160,
} as const
