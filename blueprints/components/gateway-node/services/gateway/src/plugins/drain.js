// Shutting down, in two steps. On SIGTERM, server.js sets `shuttingDown`:
// /readyz answers 503 so that load balancers stop sending, while requests
// are still served (GATEWAY_DRAIN_DELAY_MS). Then fastify.close() starts
// the drain: new work gets 503 with Retry-After while in-flight requests
// finish.
import fp from 'fastify-plugin'
import { HttpProblem } from '../problem.js'

const shuttingDown = () => new HttpProblem(503, 'the gateway is shutting down', { headers: { 'Retry-After': '1' } })

async function drain(fastify) {
  fastify.decorate('shuttingDown', false)
  fastify.decorate('draining', false)
  fastify.decorate('assertNotDraining', () => {
    if (fastify.draining) throw shuttingDown()
  })
  fastify.decorate('assertReady', () => {
    if (fastify.shuttingDown || fastify.draining) throw shuttingDown()
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
