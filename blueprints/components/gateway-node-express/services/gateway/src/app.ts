// The gateway as an Express 5 app behind a Node.js HTTP server: buildApp()
// is the fixed interface server.ts and the tests use (src/gateway-app.ts).
// The drain is the server's: close() stops listening, ends idle keep-alive
// connections, answers requests still arriving on open ones with 503 (and
// Connection: close), and resolves once the last connection is gone.
import http from 'node:http'
import express from 'express'
import type { Config } from './config.ts'
import { DrainState } from './drain.ts'
import type { AppOptions, GatewayApp } from './gateway-app.ts'
import { SERVER_OPTIONS, answerClientError } from './http-server.ts'
import { type Logger, createLogger } from './log.ts'
import { GatewayMetrics } from './metrics.ts'
import { notFound, problems, requestContext } from './middleware.ts'
import { Predictor } from './predict.ts'
import { routes } from './routes.ts'
import { chatRoutes } from './chat-routes.ts'
import { createUpstream } from './upstream/index.ts'
import { createAuthenticator } from './auth/index.ts'
import { createRateLimiter } from './ratelimit/index.ts'
import type { RateLimiter } from './ratelimit/limiter.ts'
import type { Upstream } from './upstream/upstream.ts'

class ExpressGateway implements GatewayApp {
  readonly server: http.Server
  readonly drain = new DrainState()
  readonly metrics = new GatewayMetrics()
  readonly log: Logger
  readonly #upstream: Upstream
  readonly #rateLimiter: RateLimiter | undefined
  #closing: Promise<void> | undefined

  constructor(config: Config, options: AppOptions) {
    this.log = options.logger ?? createLogger(config.logLevel)
    const deps = { log: this.log.child({ component: 'upstream' }), onDroppedReply: () => this.metrics.droppedReply() }
    this.#upstream = options.createUpstream?.(deps) ?? createUpstream(config, deps)
    const limiterDeps = { log: this.log.child({ component: 'ratelimit' }), registry: this.metrics.registry }
    this.#rateLimiter = options.createRateLimiter ? options.createRateLimiter(limiterDeps) : createRateLimiter(config, limiterDeps)
    const authenticator = options.authenticator ?? createAuthenticator(config, this.log.child({ component: 'auth' }))
    const predictor = new Predictor({
      upstream: this.#upstream,
      authenticator,
      rateLimiter: this.#rateLimiter,
      metrics: this.metrics,
      drain: this.drain,
      maxInflight: config.maxInflight,
      upstreamTimeoutMs: config.upstreamTimeoutMs,
    })

    const app = express()
    app.disable('x-powered-by')
    app.disable('etag')
    app.set('query parser', false)
    app.use(requestContext(this.log, this.metrics))
    app.use(routes({
      drain: this.drain,
      authenticator,
      upstream: this.#upstream,
      predictor,
      maxRows: config.maxRows,
      maxBodyBytes: config.maxBodyBytes,
      traceSampled: config.traceSampled,
    }))
    app.use(chatRoutes({
      config,
      options: options.chat,
      upstream: this.#upstream,
      predictor,
      metrics: this.metrics,
      drain: this.drain,
    }))
    app.use(notFound(this.drain))
    app.use(problems(this.drain))

    this.server = http.createServer(SERVER_OPTIONS, app)
    this.server.on('clientError', (err: Error, socket) => {
      answerClientError(err, socket, this.log)
    })
  }

  async listen({ host, port }: { host: string; port: number }): Promise<void> {
    await this.#upstream.start()
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen(port, host, () => {
        this.server.off('error', reject)
        resolve()
      })
    })
    this.log.info(`listening on http://${host}:${(this.server.address() as { port: number }).port}`)
  }

  close(): Promise<void> {
    this.#closing ??= this.#drainAndClose()
    return this.#closing
  }

  async #drainAndClose(): Promise<void> {
    this.drain.draining = true
    // Resolves once every connection has ended (idle ones are closed at
    // once; the others after their answer, which says Connection: close).
    const stopped = new Promise<void>((resolve) => {
      this.server.close(() => {
        resolve()
      })
    })
    // A keep-alive connection whose answer was on its way as the drain began
    // goes idle without Connection: close: sweep those too.
    const sweep = setInterval(() => {
      this.server.closeIdleConnections()
    }, 100)
    try {
      await stopped
    } finally {
      clearInterval(sweep)
    }
    await this.#upstream.close()
    await this.#rateLimiter?.close()
  }
}

export function buildApp(config: Config, options: AppOptions = {}): GatewayApp {
  return new ExpressGateway(config, options)
}
