// The SDK's version: written into every audit event. A constant, because the
// browser entry cannot read package.json at run time; test/sdk.test.ts keeps
// it equal to packages/sdk/package.json.

export const SDK_VERSION = '0.1.0'
