// Request ids and trace context (docs/ml-gateway-contract.md, "Request ids
// and tracing"). Fastify calls genReqId for every request; this plugin echoes
// the id on every response and settles the traceparent to forward upstream.
import { randomBytes } from 'node:crypto'
import fp from 'fastify-plugin'

const CLIENT_ID = /^[A-Za-z0-9._:-]{1,128}$/
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/

const hex = (bytes) => randomBytes(bytes).toString('hex')

export const newRequestId = () => hex(16)

// Keep the client's X-Request-ID when it is well formed, else make one.
export function genReqId(req) {
  const id = req.headers['x-request-id']
  return typeof id === 'string' && CLIENT_ID.test(id) ? id : newRequestId()
}

export function validTraceparent(value) {
  if (typeof value !== 'string') return false
  const m = TRACEPARENT.exec(value)
  if (!m) return false
  const [, version, traceId, parentId, , rest] = m
  if (version === 'ff') return false
  if (version === '00' && rest !== undefined) return false
  return !/^0+$/.test(traceId) && !/^0+$/.test(parentId)
}

// A new trace, sampled or not (GATEWAY_TRACE_SAMPLED): the gateway does not
// decide for a tracing backend it does not know.
export function newTraceparent(sampled = false) {
  return `00-${hex(16)}-${hex(8)}-${sampled ? '01' : '00'}`
}

async function requestId(fastify, { traceSampled = false } = {}) {
  fastify.decorateRequest('traceparent', '')

  fastify.addHook('onRequest', async (request) => {
    const header = request.headers.traceparent
    request.traceparent = validTraceparent(header) ? header : newTraceparent(traceSampled)
  })

  fastify.addHook('onSend', async (request, reply) => {
    reply.header('X-Request-ID', request.id)
  })
}

export default fp(requestId, { name: 'request-id' })
