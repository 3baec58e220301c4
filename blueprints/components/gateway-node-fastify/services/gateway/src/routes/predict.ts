// POST /v1/predict (src/predict.ts has the steps): the schema validates the
// shape, the transport forwards the raw bytes, the answer is relayed.
import type { FastifyPluginAsync } from 'fastify'
import type { Authenticator } from '../auth/authenticator.ts'
import { Predictor, predictBody } from '../predict.ts'
import type { RateLimiter, RateLimiterDeps } from '../ratelimit/limiter.ts'

interface PredictOptions {
  authenticator: Authenticator
  createRateLimiter: (deps: RateLimiterDeps) => RateLimiter | undefined
  maxRows: number
  maxInflight: number
  upstreamTimeoutMs: number
}

const predictRoutes: FastifyPluginAsync<PredictOptions> = async (fastify, { authenticator, createRateLimiter, maxRows, maxInflight, upstreamTimeoutMs }) => {
  const rateLimiter = createRateLimiter({ log: fastify.log.child({ component: 'ratelimit' }), registry: fastify.metrics.registry })
  if (rateLimiter) fastify.addHook('onClose', async () => rateLimiter.close())
  const predictor = new Predictor({
    upstream: fastify.upstream,
    authenticator,
    rateLimiter,
    metrics: fastify.metrics,
    drain: fastify.drain,
    maxInflight,
    upstreamTimeoutMs,
  })

  fastify.post('/v1/predict', {
    schema: { body: predictBody(maxRows) },
    // Before the body is read: draining, the caller, its budget, the media
    // type, then a slot.
    onRequest: async (request, reply) => {
      const caller = await predictor.admit(request.headers, request.socket.remoteAddress, reply.raw, request.log)
      // The caller's name on this request's log lines, its access log included.
      if (caller) request.log = reply.log = request.log.child({ caller })
    },
  }, async (request, reply) => {
    const answer = await predictor.forward(
      { body: request.rawBody ?? Buffer.alloc(0), requestId: request.id, traceparent: request.traceparent },
      reply.raw,
      request.log,
    )
    if (answer === undefined) return reply.code(499).send() // nobody reads it; counted as 499
    return reply.code(answer.status).type(answer.contentType).send(answer.body)
  })
}

export default predictRoutes
