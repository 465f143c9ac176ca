// Who is calling the HTTP gateway: a bearer JWT verified on every request
// (jose), or, with `--auth none`, the one identity the gateway was started
// with. The role comes from a claim the identity provider signed, never from
// the model, the tool arguments or an unsigned header (docs/guard.md "Over
// HTTP").

import { createLocalJWKSet, createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose'
import type { Identity } from './core.js'

/** Signature algorithms a token may use; `none` and the HMAC family are never among them (a public key is not a secret). */
export const ASYMMETRIC_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'] as const
export const DEFAULT_ALGS = ['RS256', 'ES256', 'EdDSA']

export interface JwtOptions {
  /** The key set: parsed JWKS (from a file), or the URL of one (fetched, cached, fetched again for an unknown `kid`). */
  jwks: { keys: unknown[] } | URL
  issuer: string
  audience: string
  algorithms: string[]
  /** Seconds of clock difference tolerated for `exp` and `nbf`. */
  clockSkew: number
  /** Where the role is: a claim name, or a dotted path (`realm_access.roles`). */
  roleClaim: string
  /** The roles the policy declares, in its order: a list claim picks the first of them it holds. */
  roles: readonly string[]
  /** Claims copied into `agent_attrs` (by name; the subject is always there as `sub`). */
  agentClaims: readonly string[]
  resource?: Record<string, unknown>
}

/** Why a request has no verified caller: the HTTP status and the `error_description` the client is told. */
export class Unauthorized extends Error {
  constructor(
    message: string,
    readonly status: 401 | 403 = 401,
  ) {
    super(message)
  }
}

export interface Caller {
  /** The token's subject: a session belongs to the subject that opened it. */
  subject: string
  identity: Identity
  /** The raw token, for the SDK's authInfo (never forwarded upstream). */
  token: string
}

export type Authenticate = (authorization: string | undefined) => Promise<Caller>

/** The value at a dotted claim path (`a.b`), where the token has it. */
function claimAt(payload: JWTPayload, path: string): unknown {
  let value: unknown = payload
  for (const part of path.split('.')) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined
    value = (value as Record<string, unknown>)[part]
  }
  return value
}

/** The caller's role from its claim: a string, or the first role the policy declares that a list claim holds. */
export function roleOf(claim: unknown, roles: readonly string[]): string | undefined {
  if (typeof claim === 'string') return claim
  if (Array.isArray(claim)) return roles.find((role) => claim.includes(role))
  return undefined
}

export function jwtAuthenticator(options: JwtOptions): Authenticate {
  for (const alg of options.algorithms) {
    if (!(ASYMMETRIC_ALGS as readonly string[]).includes(alg)) throw new Error(`--alg ${alg} is not allowed: only asymmetric signatures (${ASYMMETRIC_ALGS.join(', ')})`)
  }
  const keys: JWTVerifyGetKey =
    options.jwks instanceof URL ? createRemoteJWKSet(options.jwks, { cooldownDuration: 30_000, cacheMaxAge: 600_000 }) : createLocalJWKSet(options.jwks as Parameters<typeof createLocalJWKSet>[0])
  return async (authorization) => {
    const match = /^Bearer ([A-Za-z0-9._~+/=-]+)$/.exec(authorization ?? '')
    if (match === null) throw new Unauthorized(authorization === undefined ? 'no bearer token' : 'the Authorization header is not `Bearer <token>`')
    const token = match[1]!
    let payload: JWTPayload
    try {
      ;({ payload } = await jwtVerify(token, keys, {
        issuer: options.issuer,
        audience: options.audience,
        algorithms: options.algorithms,
        clockTolerance: options.clockSkew,
        requiredClaims: ['exp', 'sub'],
      }))
    } catch (e) {
      throw new Unauthorized(describe(e))
    }
    const subject = payload.sub!
    const role = roleOf(claimAt(payload, options.roleClaim), options.roles)
    // A verified caller without a role the policy can use is no caller: 403, not a default.
    if (role === undefined) throw new Unauthorized(`the token has no role in \`${options.roleClaim}\``, 403)
    const agent: Record<string, unknown> = { sub: subject }
    for (const name of options.agentClaims) {
      const value = claimAt(payload, name)
      if (value !== undefined) agent[name] = value
    }
    return { subject, token, identity: { role, agent, ...(options.resource ? { resource: options.resource } : {}) } }
  }
}

/** `--auth none --role R`: every request is this caller (the gateway refuses to listen beyond loopback so unless told). */
export function fixedAuthenticator(identity: Identity): Authenticate {
  return async () => ({ subject: 'anonymous', token: '', identity })
}

/** A one-line reason for a refused token that says what was wrong and never echoes it. */
function describe(e: unknown): string {
  if (e instanceof errors.JWTExpired) return 'the token has expired'
  if (e instanceof errors.JWTClaimValidationFailed) return `the token's \`${e.claim}\` claim is not accepted (${e.reason})`
  if (e instanceof errors.JWKSNoMatchingKey) return 'no key of the key set verifies the token (unknown `kid`?)'
  if (e instanceof errors.JOSEAlgNotAllowed) return 'the token is signed with an algorithm that is not allowed'
  if (e instanceof errors.JWSSignatureVerificationFailed) return 'the token signature does not verify'
  if (e instanceof errors.JWTInvalid || e instanceof errors.JWSInvalid) return 'the token is not a well-formed JWT'
  if (e instanceof errors.JWKSTimeout) return 'the key set could not be fetched in time'
  return `the token is not accepted (${e instanceof Error ? e.message : String(e)})`
}
