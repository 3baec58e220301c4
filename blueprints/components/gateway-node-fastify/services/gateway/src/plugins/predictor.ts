// The admission shared by every route that calls the ML service
// (src/predict.ts's Predictor): one rate limiter, one count of requests in
// flight against GATEWAY_MAX_INFLIGHT.
import type { FastifyInstance, FastifyPluginAsync, onRequestAsyncHookHandler } from 'fastify'
import fp from 'fastify-plugin'
import type { Authenticator } from '../auth/authenticator.ts'
import { Predictor } from '../predict.ts'
import type { RateLimiter, RateLimiterDeps } from '../ratelimit/limiter.ts'

declare module 'fastify' {
  interface FastifyInstance {
    predictor: Predictor
  }
}

interface PredictorOptions {
  authenticator: Authenticator
  createRateLimiter: (deps: RateLimiterDeps) => RateLimiter | undefined
  maxInflight: number
  upstreamTimeoutMs: number
}

const predictor: FastifyPluginAsync<PredictorOptions> = async (fastify, { authenticator, createRateLimiter, maxInflight, upstreamTimeoutMs }) => {
  const rateLimiter = createRateLimiter({ log: fastify.log.child({ component: 'ratelimit' }), registry: fastify.metrics.registry })
  if (rateLimiter) fastify.addHook('onClose', async () => rateLimiter.close())
  fastify.decorate('predictor', new Predictor({
    upstream: fastify.upstream,
    authenticator,
    rateLimiter,
    metrics: fastify.metrics,
    drain: fastify.drain,
    maxInflight,
    upstreamTimeoutMs,
  }))
}

export default fp(predictor, { name: 'predictor', dependencies: ['metrics', 'drain', 'upstream'] })

// A route's onRequest hook: before the body is read, draining, the caller,
// its budget, the media type (`json`: the route takes a JSON body), then a
// slot.
export function admission(fastify: FastifyInstance, { json = true } = {}): onRequestAsyncHookHandler {
  return async (request, reply) => {
    const caller = await fastify.predictor.admit(request.headers, request.socket.remoteAddress, reply.raw, request.log, { json })
    // The caller's name on this request's log lines, its access log included.
    if (caller) request.log = reply.log = request.log.child({ caller })
  }
}
