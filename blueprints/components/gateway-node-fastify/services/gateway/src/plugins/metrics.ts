// Prometheus metrics (src/metrics.ts): one registry per app, every answered
// request counted by route and status; and its access log line.
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
  fastify.addHook('onResponse', (request, reply, done) => {
    const ms = reply.elapsedTime
    gatewayMetrics.observeRequest(request.method, request.routeOptions.url ?? UNMATCHED, reply.statusCode, ms / 1000)
    // The access log: one line a request (Fastify's own logging writes two),
    // but not for /healthz, which container healthchecks poll.
    if (request.url !== '/healthz') {
      reply.log.info({ req: { method: request.method, url: request.url }, res: { statusCode: reply.statusCode }, responseTime: ms }, 'request completed')
    }
    done()
  })
}

export default fp(metrics, { name: 'metrics' })
