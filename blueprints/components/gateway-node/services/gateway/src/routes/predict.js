// POST /v1/predict: validate the shape, hand the body to the upstream
// transport, relay its answer.
import { HttpProblem, sendJson } from '../problem.js'
import { UpstreamError } from '../upstream/errors.js'

// Exactly the contract's shape: an object with only `instances`, 1 to
// maxRows (ML_MAX_BATCH) rows, each a non-empty array of JSON numbers (Ajv's
// "number" excludes 1e999, which parses to Infinity). The model checks the
// feature count.
export function predictBody(maxRows) {
  return {
    type: 'object',
    required: ['instances'],
    additionalProperties: false,
    properties: {
      instances: {
        type: 'array',
        minItems: 1,
        maxItems: maxRows,
        items: { type: 'array', minItems: 1, items: { type: 'number' } },
      },
    },
  }
}

function isJsonContentType(header) {
  return typeof header === 'string' && header.split(';', 1)[0].trim().toLowerCase() === 'application/json'
}

function outcomeOf(status) {
  if (status < 300) return 'ok'
  return status < 500 ? 'client_error' : 'server_error'
}

// What the client is told when the upstream fails: the cause stays in the
// logs (it names hosts, ports and error codes).
function publicDetail(err, timeoutMs) {
  return err.kind === 'timeout'
    ? `the ML service did not answer within ${timeoutMs} ms`
    : 'the ML service could not be reached or failed'
}

// options: maxRows (ML_MAX_BATCH), maxInflight (GATEWAY_MAX_INFLIGHT),
// upstreamTimeoutMs (for messages only; the transport enforces it).
export default async function predictRoutes(fastify, { maxRows, maxInflight, upstreamTimeoutMs }) {
  let inflight = 0
  fastify.metrics.trackInflight(() => inflight)

  fastify.post('/v1/predict', {
    schema: { body: predictBody(maxRows) },
    // Before the body is read: draining, the media type, then a slot. Past
    // GATEWAY_MAX_INFLIGHT the answer is a fast 503, not a queue of 504s.
    onRequest: async (request, reply) => {
      fastify.assertNotDraining()
      if (!isJsonContentType(request.headers['content-type'])) {
        throw new HttpProblem(415, 'Content-Type must be application/json')
      }
      if (inflight >= maxInflight) {
        throw new HttpProblem(503, `the gateway is answering its maximum of ${maxInflight} requests; retry later`, {
          headers: { 'Retry-After': '1' },
        })
      }
      inflight += 1
      reply.raw.once('close', () => {
        inflight -= 1
      })
    },
  }, async (request, reply) => {
    // The client going away (the connection closes before the answer is
    // sent) cancels the upstream call.
    const gone = new AbortController()
    const onClose = () => {
      if (!reply.raw.writableFinished) gone.abort()
    }
    reply.raw.once('close', onClose)
    const started = performance.now()
    const seconds = () => (performance.now() - started) / 1000
    let answer
    try {
      answer = await fastify.upstream.predict({
        body: request.rawBody,
        requestId: request.id,
        traceparent: request.traceparent,
        signal: gone.signal,
      })
    } catch (err) {
      if (!(err instanceof UpstreamError)) throw err
      fastify.metrics.observeUpstream(err.kind, seconds())
      if (err.kind === 'canceled') {
        request.log.info('client closed the request')
        return reply.code(499).send() // nobody reads it; counted as 499
      }
      throw new HttpProblem(err.status, publicDetail(err, upstreamTimeoutMs), { cause: err })
    } finally {
      reply.raw.off('close', onClose)
    }
    fastify.metrics.observeUpstream(outcomeOf(answer.status), seconds())
    return sendJson(reply, answer.status, answer.body, answer.contentType)
  })
}
