// Owns the upstream transport's life: built with the app, started when the
// app is ready, closed after the server has stopped (in-flight requests done).
import fp from 'fastify-plugin'

async function upstream(fastify, { create }) {
  const transport = create({
    log: fastify.log.child({ component: 'upstream' }),
    onDroppedReply: () => fastify.metrics.droppedReplies.inc(),
  })
  fastify.decorate('upstream', transport)
  fastify.addHook('onReady', async () => transport.start())
  fastify.addHook('onClose', async () => transport.close())
}

export default fp(upstream, { name: 'upstream', dependencies: ['metrics'] })
