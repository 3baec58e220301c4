// Prometheus metrics (src/metrics.ts): one registry per app, every answered
// request counted by route and status.
import type { FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import { GatewayMetrics, UNMATCHED } from '../metrics.ts'

declare module 'fastify' {
  interface FastifyInstance {
    metrics: GatewayMetrics
  }
}

const metrics: FastifyPluginAsync = async (fastify) => {
  const gatewayMetrics = new GatewayMetrics()
  fastify.decorate('metrics', gatewayMetrics)
  fastify.addHook('onResponse', async (request, reply) => {
    gatewayMetrics.observeRequest(request.method, request.routeOptions.url ?? UNMATCHED, reply.statusCode, reply.elapsedTime / 1000)
  })
}

export default fp(metrics, { name: 'metrics' })
