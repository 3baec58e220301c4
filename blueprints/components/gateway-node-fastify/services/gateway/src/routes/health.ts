// Liveness and readiness. /metrics has a listener of its own (src/metrics-server.ts).
import type { FastifyPluginAsync } from 'fastify'
import { checkReady } from '../predict.ts'
import { JSON_TYPE, jsonBytes } from '../problem.ts'

const healthRoutes: FastifyPluginAsync = async (fastify) => {
  fastify.get('/healthz', async (request, reply) => reply.type(JSON_TYPE).send(jsonBytes({ status: 'ok' })))

  fastify.get('/readyz', async (request, reply) => {
    await checkReady(fastify.drain, fastify.upstream, request.log)
    return reply.type(JSON_TYPE).send(jsonBytes({ status: 'ready' }))
  })
}

export default healthRoutes
