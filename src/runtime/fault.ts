// Why a call cannot be answered with a decision, however far it got: a fault
// raised anywhere makes the whole answer an `{"error"}` (docs/design.md "Loud
// failure"), never a check that fails and that `Not` could turn into a pass.

export const enum Fault {
  None,
  /** Memory could not grow for the call's scratch. */
  OutOfMemory,
  /** The policy blob holds something the runtime does not understand. */
  Corrupt,
  /** An arithmetic limit was reached (a big number past its limbs). */
  Limit,
}

export let fault: Fault = Fault.None

/** Records the first fault of the call. */
export function raise(f: Fault): void {
  if (fault == Fault.None) fault = f
}

export function clearFault(): void {
  fault = Fault.None
}
