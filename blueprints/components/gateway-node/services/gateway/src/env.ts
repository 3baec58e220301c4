// Reading settings from the environment: each reader validates one variable
// and names it in the error. config.ts and the upstream transport's own
// settings (src/upstream/index.ts) both read through an Env.

// The longest delay a Node.js timer takes: a longer one fires at once
// (TimeoutOverflowWarning), so every *_MS setting stops here.
export const MAX_TIMER_MS = 2 ** 31 - 1

export class ConfigError extends Error {
  readonly variable: string

  constructor(name: string, value: string, expected: string) {
    super(`${name}=${JSON.stringify(redact(value))} is invalid: expected ${expected}`)
    this.name = 'ConfigError'
    this.variable = name
  }
}

// The value as it may be logged: what may be a password in a URL-like value
// masked, without parsing it (the values shown are the invalid ones, and a
// parser cannot say where their userinfo ends: redis//:pw@host, or a
// password holding / ? # or a space). Everything from the start of the
// authority (after the scheme and "//", as far as the value has them) to the
// last "@" is masked, keeping a user name before a ":"; a userinfo without a
// colon (redis://token@host) is masked whole. The Go gateway does the same.
export function redact(value: string): string {
  const at = value.lastIndexOf('@')
  if (at < 0) return value
  let start = /^[a-z][a-z0-9+.-]*:/i.exec(value)?.[0].length ?? 0
  const slashes = value.slice(start, at).indexOf('//')
  if (slashes >= 0) start += slashes + 2
  const colon = value.slice(start, at).indexOf(':')
  if (colon >= 0) start += colon + 1
  if (start === at) return value
  return `${value.slice(0, start)}xxxxx${value.slice(at)}`
}

export interface StringRule {
  pattern: RegExp
  expected: string
}

export interface UrlRule {
  // No user info, query or fragment (a base URL that paths extend).
  bare?: boolean
  // What the path must look like.
  path?: RegExp
}

export class Env {
  readonly #vars: NodeJS.ProcessEnv

  constructor(vars: NodeJS.ProcessEnv) {
    this.#vars = vars
  }

  // An empty variable counts as unset, as in a .env line "NAME=".
  raw(name: string): string | undefined {
    const value = this.#vars[name]
    return value === '' ? undefined : value
  }

  string(name: string, fallback: string, rule?: StringRule): string {
    const value = this.raw(name) ?? fallback
    if (rule && !rule.pattern.test(value)) throw new ConfigError(name, value, rule.expected)
    return value
  }

  integer(name: string, fallback: number, min: number, max: number): number {
    const value = this.raw(name)
    if (value === undefined) return fallback
    const n = /^\d+$/.test(value) ? Number(value) : NaN
    if (!(n >= min && n <= max)) throw new ConfigError(name, value, `an integer from ${min} to ${max}`)
    return n
  }

  port(name: string, fallback: number): number {
    return this.integer(name, fallback, 1, 65535)
  }

  millis(name: string, fallback: number, min = 1): number {
    return this.integer(name, fallback, min, MAX_TIMER_MS)
  }

  boolean(name: string, fallback: boolean): boolean {
    const value = this.raw(name)
    if (value === undefined) return fallback
    const lower = value.toLowerCase()
    if (['true', '1', 'yes', 'on'].includes(lower)) return true
    if (['false', '0', 'no', 'off'].includes(lower)) return false
    throw new ConfigError(name, value, 'true or false')
  }

  // `fallback` is called only when the variable is unset.
  url(name: string, fallback: () => string, protocols: readonly string[], rule: UrlRule = {}): string {
    const value = this.raw(name) ?? fallback()
    const expected = `a URL (${protocols.join(', ')})${rule.bare ? ' without user info or query' : ''}`
    let parsed: URL
    try {
      parsed = new URL(value)
    } catch {
      throw new ConfigError(name, value, expected)
    }
    const bad =
      !protocols.includes(parsed.protocol.slice(0, -1)) ||
      !parsed.hostname ||
      (rule.bare === true && (parsed.username !== '' || parsed.password !== '' || parsed.search !== '' || parsed.hash !== '')) ||
      (rule.path !== undefined && !rule.path.test(parsed.pathname))
    if (bad) throw new ConfigError(name, value, expected)
    return value
  }
}
