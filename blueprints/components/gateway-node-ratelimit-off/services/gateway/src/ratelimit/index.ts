// The gateway's rate limit: none (rate_limit = 0), every caller may predict
// as often as it likes. config.ts and app.ts import this fixed interface
// (every rate-limit mode has one): RateLimitConfig, loadRateLimitConfig,
// createRateLimiter.
import type { Env } from '../env.ts'
import type { RateLimiter, RateLimiterDeps } from './limiter.ts'

// Nothing to configure but the mode itself.
export interface RateLimitConfig {
  readonly rateLimit: 'off'
}

export function loadRateLimitConfig(_env: Env): RateLimitConfig {
  return { rateLimit: 'off' }
}

export function createRateLimiter(_config: RateLimitConfig, _deps: RateLimiterDeps): RateLimiter | undefined {
  return undefined
}
