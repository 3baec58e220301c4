// The drain (src/drain.ts): fastify.close() starts it (preClose), and while
// it lasts every answer closes its keep-alive connection, so that the server
// can stop without waiting for idle clients.
import type { FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import { DrainState } from '../drain.ts'

declare module 'fastify' {
  interface FastifyInstance {
    drain: DrainState
  }
}

const drain: FastifyPluginAsync = async (fastify) => {
  const state = new DrainState()
  fastify.decorate('drain', state)
  fastify.addHook('preClose', async () => {
    state.draining = true
  })
  fastify.addHook('onSend', (request, reply, payload, done) => {
    if (state.draining) void reply.header('Connection', 'close')
    done(null, payload)
  })
}

export default fp(drain, { name: 'drain' })
