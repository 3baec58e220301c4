// POST /v1/predict (src/predict.ts has the steps): the schema validates the
// shape, the transport forwards the raw bytes, the answer is relayed.
import type { FastifyPluginAsync } from 'fastify'
import { Predictor, predictBody } from '../predict.ts'

interface PredictOptions {
  maxRows: number
  maxInflight: number
  upstreamTimeoutMs: number
}

const predictRoutes: FastifyPluginAsync<PredictOptions> = async (fastify, { maxRows, maxInflight, upstreamTimeoutMs }) => {
  const predictor = new Predictor({
    upstream: fastify.upstream,
    metrics: fastify.metrics,
    drain: fastify.drain,
    maxInflight,
    upstreamTimeoutMs,
  })

  fastify.post('/v1/predict', {
    schema: { body: predictBody(maxRows) },
    // Before the body is read: draining, the media type, then a slot.
    onRequest: async (request, reply) => {
      predictor.admit(request.headers, reply.raw)
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
