// Container healthcheck: exit 0 when GET /healthz answers 200, else 1.
// Usage: node src/healthcheck.js
import http from 'node:http'
import { loadConfig } from './config.js'

const TIMEOUT_MS = 3000

function check(port) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/healthz', timeout: TIMEOUT_MS }, (res) => {
      res.resume()
      resolve(res.statusCode === 200)
    })
    req.on('timeout', () => req.destroy(new Error('timed out')))
    req.on('error', () => resolve(false))
  })
}

let port
try {
  port = loadConfig().port
} catch (err) {
  console.error(`healthcheck: ${err.message}`)
  process.exit(1)
}
process.exit((await check(port)) ? 0 : 1)
