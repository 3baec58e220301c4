// Liveness and readiness. /metrics has a listener of its own (src/metrics-server.ts).
import type { FastifyPluginAsync } from 'fastify'
import type { Authenticator } from '../auth/authenticator.ts'
import { checkReady } from '../predict.ts'
import { JSON_TYPE, jsonBytes } from '../problem.ts'

interface HealthOptions {
  // Readiness asks it whether it can check credentials.
  authenticator: Authenticator
}

const healthRoutes: FastifyPluginAsync<HealthOptions> = async (fastify, { authenticator }) => {
  fastify.get('/healthz', async (request, reply) => reply.type(JSON_TYPE).send(jsonBytes({ status: 'ok' })))

  fastify.get('/readyz', async (request, reply) => {
    await checkReady(fastify.drain, authenticator, fastify.upstream, request.log)
    return reply.type(JSON_TYPE).send(jsonBytes({ status: 'ready' }))
  })
}

export default healthRoutes
