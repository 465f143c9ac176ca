// UTF-8 well-formedness with a position, which TextDecoder's fatal mode does not give.

/** Index of the first byte that does not start a well-formed UTF-8 sequence, or -1. */
export function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0
  while (i < b.length) {
    const c = b[i]!
    if (c < 0x80) { i++; continue }
    let n: number
    let min: number
    if (c >= 0xc2 && c <= 0xdf) { n = 1; min = 0x80 }
    else if (c >= 0xe0 && c <= 0xef) { n = 2; min = 0x800 }
    else if (c >= 0xf0 && c <= 0xf4) { n = 3; min = 0x10000 }
    else return i
    let cp = c & (0x3f >> n)
    for (let k = 1; k <= n; k++) {
      const cc = b[i + k]
      if (cc === undefined || (cc & 0xc0) !== 0x80) return i
      cp = (cp << 6) | (cc & 0x3f)
    }
    // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are not UTF-8.
    if (cp < min || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) return i
    i += n + 1
  }
  return -1
}
