// The console transport: one JSON line per decision on the console (stdout in Node).
// Works in every host, so it lives in the core.

import type { AuditEvent, Transport } from '../audit.js'

export function consoleTransport(): Transport {
  return {
    emit(event: AuditEvent): void {
      console.log(JSON.stringify(event))
    },
  }
}
