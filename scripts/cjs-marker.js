// `node scripts/cjs-marker.js DIR`: marks DIR's .js files as CommonJS (the
// package is "type": "module"; tsc writes the CommonJS build there).
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'

writeFileSync(join(process.argv[2], 'package.json'), '{ "type": "commonjs" }\n')
