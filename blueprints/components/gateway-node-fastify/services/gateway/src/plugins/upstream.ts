// Owns the upstream transport's life: built with the app, started when the
// app is ready, closed after the server has stopped (in-flight requests done).
import type { FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import type { Upstream, UpstreamDeps } from '../upstream/upstream.ts'

declare module 'fastify' {
  interface FastifyInstance {
    upstream: Upstream
  }
}

interface UpstreamOptions {
  create: (deps: UpstreamDeps) => Upstream
}

const upstream: FastifyPluginAsync<UpstreamOptions> = async (fastify, { create }) => {
  const transport = create({
    log: fastify.log.child({ component: 'upstream' }),
    onDroppedReply: () => fastify.metrics.droppedReply(),
  })
  fastify.decorate('upstream', transport)
  fastify.addHook('onReady', async () => transport.start())
  fastify.addHook('onClose', async () => transport.close())
}

export default fp(upstream, { name: 'upstream', dependencies: ['metrics'] })
