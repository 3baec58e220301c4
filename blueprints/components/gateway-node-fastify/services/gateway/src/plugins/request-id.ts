// Request ids and trace context: Fastify calls genReqId for every request;
// this plugin echoes the id on every response and settles the traceparent
// to forward upstream (src/request-id.ts has the rules).
import type { IncomingMessage } from 'node:http'
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { requestIdOf, traceparentOf } from '../request-id.ts'

declare module 'fastify' {
  interface FastifyRequest {
    // The W3C traceparent forwarded upstream.
    readonly traceparent: string
  }
}

interface RequestIdOptions {
  traceSampled: boolean
}

const requestId: FastifyPluginAsync<RequestIdOptions> = async (fastify, { traceSampled }) => {
  // Settled when a route first asks (only the routes that call upstream do).
  const traceparents = new WeakMap<FastifyRequest, string>()
  fastify.decorateRequest('traceparent', {
    getter(this: FastifyRequest): string {
      let traceparent = traceparents.get(this)
      if (traceparent === undefined) {
        traceparent = traceparentOf(this.headers, traceSampled)
        traceparents.set(this, traceparent)
      }
      return traceparent
    },
  })

  // Set as the request comes in, the header is on every answer of it
  // (callback hooks: no promise a request).
  fastify.addHook('onRequest', (request, reply, done) => {
    void reply.header('X-Request-ID', request.id)
    done()
  })
}

export default fp(requestId, { name: 'request-id' })

// Fastify's genReqId option.
export function genReqId(req: IncomingMessage): string {
  return requestIdOf(req.headers)
}
