// Container healthcheck: exit 0 when GET /healthz answers 200, else 1.
// Usage: node src/healthcheck.ts
import http from 'node:http'
import { loadConfig } from './config.ts'

const TIMEOUT_MS = 3000

function check(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/healthz', timeout: TIMEOUT_MS }, (res) => {
      res.resume()
      resolve(res.statusCode === 200)
    })
    req.on('timeout', () => req.destroy(new Error('timed out')))
    req.on('error', () => resolve(false))
  })
}

let port: number
try {
  port = loadConfig().port
} catch (err) {
  console.error(`healthcheck: ${(err as Error).message}`)
  process.exit(1)
}
process.exit((await check(port)) ? 0 : 1)
