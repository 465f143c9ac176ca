// Stands in for AssemblyScript's imported `abort`, so the artifact imports nothing.
// It is unreachable by construction: the runtime is built with --noAssert and
// checks its bounds itself.
export function abort(message: usize, file: usize, line: u32, column: u32): void {
  unreachable()
}
