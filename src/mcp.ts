// `perso/mcp`: the guard inside a TypeScript MCP server — guard(server,
// { policy, identity }) filters its tools/list and decides its tools/call
// with a loaded artifact (docs/guard.md, "In-process middleware"). Loads
// neither the compiler nor the MCP SDK.

export { guard } from './guard/middleware.js'
export type { DenyAs, GuardOptions, Identity, Mode, RequestExtra } from './guard/middleware.js'
export { DENIED_CODE } from './guard/core.js'
