// Liveness, readiness and metrics.
import { HttpProblem, sendJson } from '../problem.js'

export default async function healthRoutes(fastify) {
  fastify.get('/healthz', async (request, reply) => sendJson(reply, 200, { status: 'ok' }))

  fastify.get('/readyz', async (request, reply) => {
    fastify.assertNotDraining()
    try {
      await fastify.upstream.ready()
    } catch (err) {
      throw new HttpProblem(503, `upstream not ready: ${err.message}`, {
        headers: { 'Retry-After': '1' },
      })
    }
    return sendJson(reply, 200, { status: 'ready' })
  })

  fastify.get('/metrics', async (request, reply) => {
    const { registry } = fastify.metrics
    return reply.type(registry.contentType).send(await registry.metrics())
  })
}
