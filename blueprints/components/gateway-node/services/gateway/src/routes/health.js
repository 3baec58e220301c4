// Liveness and readiness. /metrics has a listener of its own (metrics-server.js).
import { HttpProblem, sendJson } from '../problem.js'

export default async function healthRoutes(fastify) {
  fastify.get('/healthz', async (request, reply) => sendJson(reply, 200, { status: 'ok' }))

  fastify.get('/readyz', async (request, reply) => {
    fastify.assertReady()
    try {
      await fastify.upstream.ready()
    } catch (err) {
      request.log.warn({ err }, 'upstream not ready')
      throw new HttpProblem(503, 'the upstream is not ready', { headers: { 'Retry-After': '1' } })
    }
    return sendJson(reply, 200, { status: 'ready' })
  })
}
