// The fixed interface between the framework-neutral gateway and the
// framework glue: src/app.ts (placed by the framework's component) exports
// buildApp(config, options) returning a GatewayApp. server.ts runs one; the
// tests run each one over real HTTP.
import type { Server } from 'node:http'
import type { Log, Logger } from './log.ts'
import type { Config } from './config.ts'
import type { DrainState } from './drain.ts'
import type { GatewayMetrics } from './metrics.ts'
import type { Upstream, UpstreamDeps } from './upstream/upstream.ts'
import type { Authenticator } from './auth/authenticator.ts'
import type { RateLimiter, RateLimiterDeps } from './ratelimit/limiter.ts'
import type { ChatOptions } from './chat/index.ts'

export interface AppOptions {
  // Default: JSON lines on stdout at config.logLevel.
  logger?: Logger
  // Default: the transport of src/upstream/index.ts, built from the config.
  createUpstream?: (deps: UpstreamDeps) => Upstream
  // Default: the authentication of src/auth/index.ts, built from the config.
  authenticator?: Authenticator
  // Default: the rate limiter of src/ratelimit/index.ts, built from the
  // config (undefined: callers are not limited).
  createRateLimiter?: (deps: RateLimiterDeps) => RateLimiter | undefined
  // What the chat completions API is given instead of its defaults
  // (src/chat/index.ts; nothing with streaming = false).
  chat?: ChatOptions
}

export interface GatewayApp {
  readonly server: Server
  readonly drain: DrainState
  readonly metrics: GatewayMetrics
  readonly log: Log
  // Starts the upstream, then listens.
  listen(address: { host: string; port: number }): Promise<unknown>
  // The drain: stops listening, answers new work with 503, lets in-flight
  // requests finish, then closes the upstream and the rate limiter.
  close(): PromiseLike<unknown>
}

export type BuildApp = (config: Config, options?: AppOptions) => GatewayApp
