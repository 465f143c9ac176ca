// Random tests run with one fixed seed in `npm test`; PERSO_SEED=<n> explores
// another (and replays a failure, whose message names the seed). fast-check's
// properties take it as their default, the project's own generators read SEED.

import fc from 'fast-check'

export const SEED = Number(process.env.PERSO_SEED ?? 20_261_204)
fc.configureGlobal({ seed: SEED })
