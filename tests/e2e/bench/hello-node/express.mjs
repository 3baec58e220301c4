// The bare framework's hello world, beside the gateway in the benchmark:
// copied into a generated gateway's folder and run there with `node
// express.mjs` (express from its node_modules). GET / -> {"status":"ok"}
// on 127.0.0.1:$PORT, no logging.
import express from 'express'

const app = express()
app.get('/', (req, res) => {
  res.json({ status: 'ok' })
})
app.listen(Number(process.env.PORT ?? 8080), '127.0.0.1')
