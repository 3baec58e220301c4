// What a test needs to get past the API-key check (test/helpers.ts exports
// it to every test): the environment of a gateway process that accepts one
// key, and the header a client sends with it. A key for tests only.
import { createHash } from 'node:crypto'

const KEY = 'test-key-for-the-gateway-tests-only'

export const AUTH_ENV: Readonly<Record<string, string>> = Object.freeze({
  GATEWAY_API_KEYS: `tests:${createHash('sha256').update(KEY).digest('hex')}`,
})

export const AUTH_HEADERS: Readonly<Record<string, string>> = Object.freeze({ authorization: `Bearer ${KEY}` })
