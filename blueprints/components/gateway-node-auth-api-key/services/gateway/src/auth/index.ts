// The gateway's authentication: callers send an API key as
// `Authorization: Bearer <key>`, and the gateway knows only the SHA-256 of
// each key (GATEWAY_API_KEYS), with a name that identifies the caller.
// config.ts and app.ts import this fixed interface (every auth mode has
// one): AuthConfig and loadAuthConfig, its settings, and createAuthenticator.
import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'
import { ConfigError, type Env } from '../env.ts'
import type { Log } from '../log.ts'
import { HttpProblem } from '../problem.ts'
import type { Authenticator } from './authenticator.ts'

export interface ApiKey {
  readonly name: string
  // The SHA-256 of the key; the key itself is never stored.
  readonly hash: Buffer
}

export interface AuthConfig {
  readonly apiKeys: readonly ApiKey[]
}

const NAME = /^[A-Za-z0-9._-]{1,64}$/
const HASH = /^[0-9a-f]{64}$/

// GATEWAY_API_KEYS: name:sha256hex pairs, comma-separated (`make api-key
// NAME=...` adds one). Unset, no key is accepted. An error shows the
// entry's position and name, never its hash.
export function loadAuthConfig(env: Env): AuthConfig {
  const variable = 'GATEWAY_API_KEYS'
  const apiKeys: ApiKey[] = []
  const entries = (env.raw(variable) ?? '').split(',')
  entries.forEach((entry, i) => {
    if (entry === '') return
    const colon = entry.indexOf(':')
    const name = colon < 0 ? entry : entry.slice(0, colon)
    const digest = colon < 0 ? '' : entry.slice(colon + 1)
    if (!NAME.test(name)) {
      throw new ConfigError(variable, `entry ${i + 1}`, "name:sha256hex entries, each name 1 to 64 letters, digits, '.', '_' or '-'")
    }
    if (!HASH.test(digest)) {
      throw new ConfigError(variable, `entry ${i + 1} (${name})`, '64 lowercase hex digits after the name (the SHA-256 of the key)')
    }
    if (apiKeys.some((key) => key.name === name)) {
      throw new ConfigError(variable, `entry ${i + 1} (${name})`, 'each name once')
    }
    apiKeys.push({ name, hash: Buffer.from(digest, 'hex') })
  })
  return { apiKeys: Object.freeze(apiKeys) }
}

// The 401s, the same bytes as the Go gateway's (docs/ml-gateway-contract.md).
export const MISSING_KEY = 'send an API key: Authorization: Bearer <key>'
export const INVALID_KEY = 'the API key is not valid'

function refuse(challenge: string, detail: string): HttpProblem {
  return new HttpProblem(401, detail, { headers: { 'WWW-Authenticate': challenge } })
}

// A missing Authorization header, or one of another scheme, is MISSING_KEY;
// a bearer token that is no known key is INVALID_KEY. The hash of the token
// is compared with every key's, in constant time, so the answer's timing
// says nothing of how close a guess came.
export function createAuthenticator({ apiKeys }: AuthConfig, _log: Log): Authenticator {
  return {
    authenticate(headers: IncomingHttpHeaders): string {
      const header = headers.authorization ?? ''
      const space = header.indexOf(' ')
      if (space < 0 || header.slice(0, space).toLowerCase() !== 'bearer') throw refuse('Bearer', MISSING_KEY)
      const sum = createHash('sha256').update(header.slice(space + 1), 'utf8').digest()
      let caller = ''
      for (const key of apiKeys) {
        if (timingSafeEqual(sum, key.hash)) caller = key.name
      }
      if (caller === '') throw refuse('Bearer error="invalid_token"', INVALID_KEY)
      return caller
    },
  }
}
