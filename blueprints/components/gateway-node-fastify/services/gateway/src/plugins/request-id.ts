// Request ids and trace context: Fastify calls genReqId for every request;
// this plugin echoes the id on every response and settles the traceparent
// to forward upstream (src/request-id.ts has the rules).
import type { IncomingMessage } from 'node:http'
import type { FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import { requestIdOf, traceparentOf } from '../request-id.ts'

declare module 'fastify' {
  interface FastifyRequest {
    // The W3C traceparent forwarded upstream.
    traceparent: string
  }
}

interface RequestIdOptions {
  traceSampled: boolean
}

const requestId: FastifyPluginAsync<RequestIdOptions> = async (fastify, { traceSampled }) => {
  fastify.decorateRequest('traceparent', '')

  fastify.addHook('onRequest', async (request) => {
    request.traceparent = traceparentOf(request.headers, traceSampled)
  })

  fastify.addHook('onSend', async (request, reply) => {
    void reply.header('X-Request-ID', request.id)
  })
}

export default fp(requestId, { name: 'request-id' })

// Fastify's genReqId option.
export function genReqId(req: IncomingMessage): string {
  return requestIdOf(req.headers)
}
