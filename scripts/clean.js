// `node scripts/clean.js DIR…`: removes each directory, so a build starts from
// nothing and a file deleted from the sources can never ship.
import { rmSync } from 'node:fs'

for (const dir of process.argv.slice(2)) rmSync(dir, { recursive: true, force: true })
