// POST /v1/predict: validate the shape, hand the body to the upstream
// transport, relay its answer.
import { HttpProblem, sendJson } from '../problem.js'
import { UpstreamError } from '../upstream/errors.js'

export const MAX_ROWS = 256

// Exactly the contract's shape: an object with only `instances`, 1..256 rows,
// each a non-empty array of JSON numbers. The model checks the feature count.
export const predictBody = {
  type: 'object',
  required: ['instances'],
  additionalProperties: false,
  properties: {
    instances: {
      type: 'array',
      minItems: 1,
      maxItems: MAX_ROWS,
      items: { type: 'array', minItems: 1, items: { type: 'number' } },
    },
  },
}

function isJsonContentType(header) {
  return typeof header === 'string' && header.split(';', 1)[0].trim().toLowerCase() === 'application/json'
}

function outcomeOf(status) {
  if (status < 300) return 'ok'
  return status < 500 ? 'client_error' : 'server_error'
}

export default async function predictRoutes(fastify) {
  fastify.post('/v1/predict', {
    schema: { body: predictBody },
    // Before the body is read: draining, then the media type.
    onRequest: async (request) => {
      fastify.assertNotDraining()
      if (!isJsonContentType(request.headers['content-type'])) {
        throw new HttpProblem(415, 'Content-Type must be application/json')
      }
    },
  }, async (request, reply) => {
    // JSON allows 1e999, which parses to Infinity: not a usable feature.
    if (!request.body.instances.every((row) => row.every(Number.isFinite))) {
      throw new HttpProblem(422, 'body/instances must hold finite numbers')
    }
    const started = performance.now()
    const seconds = () => (performance.now() - started) / 1000
    let answer
    try {
      answer = await fastify.upstream.predict({
        body: request.rawBody,
        requestId: request.id,
        traceparent: request.traceparent,
      })
    } catch (err) {
      if (!(err instanceof UpstreamError)) throw err
      fastify.metrics.observeUpstream(err.kind, seconds())
      throw new HttpProblem(err.status, err.message, { cause: err })
    }
    fastify.metrics.observeUpstream(outcomeOf(answer.status), seconds())
    return sendJson(reply, answer.status, answer.body, answer.contentType)
  })
}
