// POST /v1/predict (src/predict.ts has the steps): the schema validates the
// shape, the transport forwards the raw bytes, the answer is relayed.
import type { FastifyPluginAsync } from 'fastify'
import { predictBody } from '../predict.ts'
import { admission } from '../plugins/predictor.ts'

interface PredictOptions {
  maxRows: number
}

const predictRoutes: FastifyPluginAsync<PredictOptions> = async (fastify, { maxRows }) => {
  fastify.post('/v1/predict', { schema: { body: predictBody(maxRows) }, onRequest: admission(fastify) }, async (request, reply) => {
    const answer = await fastify.predictor.forward(
      { body: request.rawBody ?? Buffer.alloc(0), requestId: request.id, traceparent: request.traceparent },
      reply.raw,
      request.log,
    )
    if (answer === undefined) return reply.code(499).send() // nobody reads it; counted as 499
    return reply.code(answer.status).type(answer.contentType).send(answer.body)
  })
}

export default predictRoutes
