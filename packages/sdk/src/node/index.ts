// The SDK's Node-only part: reading artifacts from files, and the file and HTTP
// transports. Importing this module registers the file reader with the core.

import { readFile } from 'node:fs/promises'
import { setFileReader } from '../module.js'

setFileReader(async (path) => readFile(path))

export { fileTransport } from './file.js'
export type { FileTransport } from './file.js'
export { httpTransport } from './http.js'
export type { HttpTransport, HttpTransportOptions } from './http.js'
