// The identity provider's public keys, fetched from its JWKS URL and kept in
// memory. jose's remote key set fetches them (a timeout, no redirect, the
// JSON checked) and picks the key of a token (its kid, its algorithm's key
// type, use "sig"); when to fetch is decided here, the same way as in the Go
// gateway:
// - at start, in the background;
// - again when a token names a key that is not in the set (the provider may
//   have rotated its keys), or when the set is older than MAX_AGE_MS (in
//   the background: requests go on with the keys they have);
// - never twice within COOLDOWN_MS, whatever came of the first: a flood of
//   unknown kids, or a provider that does not answer, costs one fetch per
//   cooldown. Requests that come while a fetch is in flight wait for it.
// A failed fetch leaves the keys fetched before in place. Without any key
// set at all, getKey throws NoKeysError: the request gets a 503, its token
// may well be valid.
import { createRemoteJWKSet, errors, type JWTVerifyGetKey } from 'jose'
import type { Log } from '../log.ts'

// One fetch's time limit, connection included.
export const FETCH_TIMEOUT_MS = 5_000
// The least time between two fetches.
export const COOLDOWN_MS = 10_000
// How long a key set is used before it is fetched again.
export const MAX_AGE_MS = 5 * 60_000

export class NoKeysError extends Error {
  constructor(cause: unknown) {
    super('no key set to check tokens with', { cause })
    this.name = 'NoKeysError'
  }
}

export interface KeySetOptions {
  log: Log
  // The clock of the cooldown and of the key set's age (tests move it).
  now?: () => number
  fetchTimeoutMs?: number
}

export class KeySet {
  readonly #url: string
  readonly #log: Log
  readonly #now: () => number
  readonly #remote: ReturnType<typeof createRemoteJWKSet>
  #fetched = -Infinity // when the key set was fetched; -Infinity: never
  #tried = -Infinity // when the last fetch started, whatever came of it
  #error: unknown // why the last fetch failed; undefined if it did not
  #pending: Promise<void> | undefined

  constructor(url: string, { log, now = Date.now, fetchTimeoutMs = FETCH_TIMEOUT_MS }: KeySetOptions) {
    this.#url = url
    this.#log = log
    this.#now = now
    // Every fetch is this class's: jose would fetch on its own only for an
    // empty set, and getKey never asks it then.
    this.#remote = createRemoteJWKSet(new URL(url), {
      timeoutDuration: fetchTimeoutMs,
      cooldownDuration: Infinity,
      cacheMaxAge: Infinity,
    })
  }

  // Starts the first fetch, so that the first request finds the keys.
  start(): void {
    void this.refresh()
  }

  // Resolves once there is a key set; without one, fetches it (at most once
  // per cooldown) and throws NoKeysError when it still has none.
  async ready(): Promise<void> {
    if (this.#hasKeys()) return
    await this.refresh()
    if (!this.#hasKeys()) throw new NoKeysError(this.#error)
  }

  // The key of a token, for jose's jwtVerify.
  readonly getKey: JWTVerifyGetKey = async (header, token) => {
    if (!this.#hasKeys()) await this.ready()
    else if (this.#now() - this.#fetched >= MAX_AGE_MS) void this.refresh()
    try {
      return await this.#remote(header, token)
    } catch (err) {
      if (!(err instanceof errors.JWKSNoMatchingKey)) throw err
      await this.refresh()
      return await this.#remote(header, token)
    }
  }

  #hasKeys(): boolean {
    return this.#fetched > -Infinity
  }

  // Fetches the key set, unless a fetch is in flight (then waits for it) or
  // the last one started less than COOLDOWN_MS ago. Never throws: a failure
  // is logged, and the keys fetched before stay.
  async refresh(): Promise<void> {
    if (this.#pending === undefined && this.#now() - this.#tried >= COOLDOWN_MS) {
      this.#tried = this.#now()
      this.#pending = this.#remote.reload().then(
        () => {
          this.#fetched = this.#now()
          this.#error = undefined
          this.#log.info({ url: this.#url, keys: this.#remote.jwks()?.keys.length }, "fetched the identity provider's keys")
        },
        (err: unknown) => {
          this.#error = err
          this.#log.warn({ url: this.#url, err }, "could not fetch the identity provider's keys")
        },
      ).finally(() => {
        this.#pending = undefined
      })
    }
    await this.#pending
  }
}
