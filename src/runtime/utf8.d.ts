// For editors: scripts/build-runtime.js expands every `utf8('…')` before asc sees it.

/** The address of `text` stored as static data: a length byte, then its UTF-8 bytes. Literal texts only, at most 255 bytes. */
declare function utf8(text: string): usize
