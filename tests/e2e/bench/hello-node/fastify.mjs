// The bare framework's hello world, beside the gateway in the benchmark:
// copied into a generated gateway's folder and run there with `node
// fastify.mjs` (fastify from its node_modules). GET / -> {"status":"ok"}
// on 127.0.0.1:$PORT, no logging.
import Fastify from 'fastify'

const app = Fastify({ logger: false })
app.get('/', async () => ({ status: 'ok' }))
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 8080) })
