// The text form of an artifact (wabt's disassembler), for `perso inspect --wat`
// and `perso compile --emit wat`.

export async function disassemble(wasm: Uint8Array): Promise<string> {
  const { default: init } = await import('wabt')
  const wabt = await init()
  const module = wabt.readWasm(wasm, { readDebugNames: true, mutable_globals: true, bulk_memory: true, sign_extension: true, sat_float_to_int: true })
  try {
    module.generateNames()
    module.applyNames()
    return module.toText({ foldExprs: false, inlineExport: true })
  } finally {
    module.destroy()
  }
}
