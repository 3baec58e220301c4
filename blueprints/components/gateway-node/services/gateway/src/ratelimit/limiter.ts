// What the gateway needs from its rate limiter, whichever it is: the
// rate-limit component's src/ratelimit/index.ts implements it
// (RateLimitConfig, loadRateLimitConfig(env), createRateLimiter(config,
// deps), undefined when callers are not limited).
import type { IncomingHttpHeaders } from 'node:http'
import type { Registry } from 'prom-client'
import type { Log } from '../log.ts'

// The request as the limiter sees it: who sent it (caller: the
// authenticator's name for it, '' when the gateway asks no credential; then
// the client's address counts) and its headers (X-Forwarded-For).
export interface LimitedRequest {
  caller: string
  remoteAddress: string | undefined
  headers: IncomingHttpHeaders
}

export interface RateLimiter {
  // Spends one request of the caller's budget. Returns the headers every
  // answer to the request carries from then on (RateLimit,
  // RateLimit-Policy); throws an HttpProblem 429 (with them, and
  // Retry-After) when the budget is spent, or 503 when the limiter cannot
  // tell and fails closed.
  limit(request: LimitedRequest): Promise<Record<string, string>>
  close(): Promise<void>
}

export interface RateLimiterDeps {
  log: Log
  // The app's metrics registry: the limiter's counters go there.
  registry: Registry
}
