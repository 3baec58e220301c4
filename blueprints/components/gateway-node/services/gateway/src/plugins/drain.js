// Draining: once fastify.close() starts (SIGTERM), new work gets 503 with
// Retry-After while in-flight requests finish.
import fp from 'fastify-plugin'
import { HttpProblem } from '../problem.js'

async function drain(fastify) {
  fastify.decorate('draining', false)
  fastify.decorate('assertNotDraining', () => {
    if (fastify.draining) {
      throw new HttpProblem(503, 'the gateway is shutting down', { headers: { 'Retry-After': '1' } })
    }
  })
  fastify.addHook('preClose', async () => {
    fastify.draining = true
  })
  // Answers sent while draining close their keep-alive connection, so that
  // the server can stop without waiting for idle clients.
  fastify.addHook('onSend', async (request, reply) => {
    if (fastify.draining) reply.header('Connection', 'close')
  })
}

export default fp(drain, { name: 'drain' })
