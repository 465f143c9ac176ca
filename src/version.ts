// perso's version: the compiler writes it into every artifact's metadata and the
// SDK into every audit event. A constant, because the browser entry cannot read
// package.json at run time; test/sdk.test.ts keeps it equal to package.json.

export const PERSO_VERSION = '0.1.0'
