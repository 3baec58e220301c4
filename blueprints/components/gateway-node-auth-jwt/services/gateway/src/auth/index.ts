// The gateway's authentication: callers send an access token of the
// identity provider as `Authorization: Bearer <JWT>`, and the gateway checks
// it with jose against the provider's public keys (GATEWAY_JWKS_URL, see
// key-set.ts): the signature, by an algorithm of GATEWAY_JWT_ALGORITHMS
// only, the issuer, the audience, and the times (exp required; nbf and iat
// when present), with GATEWAY_JWT_CLOCK_SKEW_S of tolerance. The token's
// subject (`sub`) is the caller. config.ts and app.ts import this fixed
// interface (every auth mode has one): AuthConfig and loadAuthConfig, its
// settings, and createAuthenticator.
import type { IncomingHttpHeaders } from 'node:http'
import { isIPv4 } from 'node:net'
import { type JWTPayload, type JWTVerifyOptions, errors, jwtVerify } from 'jose'
import { ConfigError, type Env } from '../env.ts'
import type { Log } from '../log.ts'
import { HttpProblem } from '../problem.ts'
import type { Authenticator } from './authenticator.ts'
import { KeySet, type KeySetOptions, NoKeysError } from './key-set.ts'

export interface AuthConfig {
  // The identity provider's key set (JWKS).
  readonly jwksUrl: string
  // The `iss` every token carries, and a value its `aud` must hold.
  readonly jwtIssuer: string
  readonly jwtAudience: string
  // The signing algorithms accepted.
  readonly jwtAlgorithms: readonly string[]
  // Allowed on exp, nbf and iat.
  readonly jwtClockSkewS: number
}

// The algorithms GATEWAY_JWT_ALGORITHMS may name: the asymmetric ones, whose
// keys the JWKS publishes. `none` and the HMAC algorithms (HS*) never are:
// an HMAC "key" taken from a JWKS would be a public key, which anyone can
// sign with.
export const JWT_ALGORITHMS: readonly string[] = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA']
const DEFAULT_ALGORITHMS = 'RS256,ES256'
const MAX_CLOCK_SKEW_S = 300

function required(env: Env, name: string, what: string): string {
  const value = env.raw(name)
  if (value === undefined) throw new ConfigError(name, '', `${what} (required)`)
  if (/\s/.test(value)) throw new ConfigError(name, value, `${what}, without spaces`)
  return value
}

// localhost, 127.0.0.0/8 or ::1 (URL keeps IPv6 hosts in brackets).
function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || (isIPv4(hostname) && hostname.startsWith('127.')) || hostname === '[::1]'
}

// The key set decides whose tokens are accepted, so whoever could rewrite it
// on its way (plain http across a network) could mint tokens: https, or
// http to a provider on this machine (development, tests). User info would
// end up in logs, a fragment is never sent: neither is accepted.
function jwksUrl(env: Env, name: string): string {
  const expected = "the https:// URL of your identity provider's key set (JWKS), such as https://idp.example.com/.well-known/jwks.json; http:// only on localhost"
  const value = required(env, name, expected)
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new ConfigError(name, value, expected)
  }
  const secure = url.protocol === 'https:' || (url.protocol === 'http:' && isLoopback(url.hostname))
  if (!secure || !url.hostname || url.username !== '' || url.password !== '' || value.includes('#')) {
    throw new ConfigError(name, value, expected)
  }
  return value
}

function algorithms(env: Env, name: string): string[] {
  const value = env.raw(name) ?? DEFAULT_ALGORITHMS
  const list = value.split(',').map((alg) => alg.trim())
  if (!list.every((alg) => JWT_ALGORITHMS.includes(alg))) {
    throw new ConfigError(name, value, `a comma-separated list of ${JWT_ALGORITHMS.join(', ')} (never none or HS*: they would let anyone sign)`)
  }
  return [...new Set(list)]
}

// The identity provider's settings. The JWKS URL, the issuer and the
// audience have no default: a gateway that would accept anyone's tokens, or
// nobody's, does not start.
export function loadAuthConfig(env: Env): AuthConfig {
  return {
    jwksUrl: jwksUrl(env, 'GATEWAY_JWKS_URL'),
    jwtIssuer: required(env, 'GATEWAY_JWT_ISSUER', "the exact `iss` of your identity provider's tokens, such as https://idp.example.com/"),
    jwtAudience: required(env, 'GATEWAY_JWT_AUDIENCE', "the `aud` value your identity provider puts in this API's tokens"),
    jwtAlgorithms: Object.freeze(algorithms(env, 'GATEWAY_JWT_ALGORITHMS')),
    jwtClockSkewS: env.integer('GATEWAY_JWT_CLOCK_SKEW_S', 30, 0, MAX_CLOCK_SKEW_S),
  }
}

// The refusals, the same bytes as the Go gateway's
// (docs/ml-gateway-contract.md). Why a token is refused is logged, never
// told: the caller's identity provider knows how to make a good one.
export const MISSING_TOKEN = 'send a bearer token: Authorization: Bearer <token>'
export const INVALID_TOKEN = 'the bearer token is not valid'
export const NO_KEYS = "the gateway cannot check tokens now: its identity provider's keys are unavailable"

function refuse(challenge: string, detail: string): HttpProblem {
  return new HttpProblem(401, detail, { headers: { 'WWW-Authenticate': challenge } })
}

// A token that passed jose's checks but not the gateway's own.
class ClaimRefused extends Error {
  readonly reason: string

  constructor(reason: string) {
    super(reason)
    this.reason = reason
  }
}

// Why a token was refused, for the log.
function reasonOf(err: unknown): string {
  if (err instanceof ClaimRefused) return err.reason
  if (err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JOSENotSupported) return 'algorithm'
  if (err instanceof errors.JWKSNoMatchingKey) return 'unknown key'
  if (err instanceof errors.JWSSignatureVerificationFailed || err instanceof errors.JWKSMultipleMatchingKeys) return 'signature'
  if (err instanceof errors.JWTExpired) return 'expired'
  if (err instanceof errors.JWTClaimValidationFailed) {
    const reasons: Record<string, string> = { nbf: 'not yet valid', iat: 'not yet valid', iss: 'issuer', aud: 'audience', sub: 'no subject', exp: 'no expiry' }
    return reasons[err.claim] ?? 'invalid'
  }
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid) return 'malformed'
  return 'invalid'
}

export interface JwtOptions {
  // The key set's clock and fetch timeout (tests change them).
  keySet?: Omit<KeySetOptions, 'log'>
}

// A missing Authorization header, or one of another scheme, is
// MISSING_TOKEN; a token that does not pass is INVALID_TOKEN, and why is
// logged (without the token). While the gateway has no key set to check
// tokens with, the answer is a 503, and ready() (/readyz) says so too.
export function createAuthenticator(config: AuthConfig, log: Log, options: JwtOptions = {}): Authenticator {
  const keys = new KeySet(config.jwksUrl, { log, ...options.keySet })
  keys.start()
  const verifyOptions: JWTVerifyOptions = {
    // The algorithm is the gateway's choice, never the token's alone:
    // `none` and HS* are not in the list (config), and jose picks a key of
    // the algorithm's own type.
    algorithms: [...config.jwtAlgorithms],
    issuer: config.jwtIssuer,
    audience: config.jwtAudience,
    clockTolerance: config.jwtClockSkewS,
    requiredClaims: ['sub', 'exp'],
  }

  // jose's checks, then the gateway's: iat not in the future, sub a string.
  async function verify(token: string): Promise<string> {
    let payload: JWTPayload
    try {
      payload = (await jwtVerify(token, keys.getKey, verifyOptions)).payload
    } catch (err) {
      // A token without a kid that several keys of its type could have
      // signed: each is tried.
      if (!(err instanceof errors.JWKSMultipleMatchingKeys)) throw err
      payload = await verifyWithAnyOf(token, err, verifyOptions)
    }
    if (payload.iat !== undefined && payload.iat > Date.now() / 1000 + config.jwtClockSkewS) throw new ClaimRefused('not yet valid')
    if (typeof payload.sub !== 'string' || payload.sub === '') throw new ClaimRefused('no subject')
    return payload.sub
  }

  const noKeys = (cause: NoKeysError) => new HttpProblem(503, NO_KEYS, { headers: { 'Retry-After': '1' }, cause })
  return {
    async ready(): Promise<void> {
      try {
        await keys.ready()
      } catch (err) {
        throw err instanceof NoKeysError ? noKeys(err) : err
      }
    },

    async authenticate(headers: IncomingHttpHeaders, requestLog: Log): Promise<string> {
      const header = headers.authorization ?? ''
      const space = header.indexOf(' ')
      if (space < 0 || header.slice(0, space).toLowerCase() !== 'bearer') throw refuse('Bearer', MISSING_TOKEN)
      try {
        return await verify(header.slice(space + 1))
      } catch (err) {
        if (err instanceof NoKeysError) throw noKeys(err)
        requestLog.info({ reason: reasonOf(err) }, 'bearer token refused')
        throw refuse('Bearer error="invalid_token"', INVALID_TOKEN)
      }
    },
  }
}

async function verifyWithAnyOf(token: string, candidates: errors.JWKSMultipleMatchingKeys, options: JWTVerifyOptions): Promise<JWTPayload> {
  for await (const key of candidates) {
    try {
      return (await jwtVerify(token, key, options)).payload
    } catch (err) {
      if (!(err instanceof errors.JWSSignatureVerificationFailed)) throw err
    }
  }
  throw new errors.JWSSignatureVerificationFailed()
}
