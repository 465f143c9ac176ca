// The SDK's version as audit events report it; a test keeps it equal to package.json
// (the browser entry cannot read package.json at run time).

export const SDK_VERSION = '0.1.0'
