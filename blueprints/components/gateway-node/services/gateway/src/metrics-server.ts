// The /metrics listener, apart from the public port (GATEWAY_METRICS_HOST,
// loopback by default, and GATEWAY_METRICS_PORT): process, heap and route
// data are for the operator's scraper, not for clients.
import http from 'node:http'
import type { Log } from './log.ts'
import type { Registry } from 'prom-client'

export function createMetricsServer(registry: Registry, log: Log): http.Server {
  return http.createServer((req, res) => {
    if ((req.url ?? '').split('?', 1)[0] !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found: the metrics are at /metrics\n')
      return
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' }).end('use GET\n')
      return
    }
    registry.metrics().then(
      (body) => {
        res.writeHead(200, { 'Content-Type': registry.contentType, 'Content-Length': Buffer.byteLength(body) })
        res.end(req.method === 'HEAD' ? undefined : body)
      },
      (err: unknown) => {
        log.error({ err }, 'could not collect the metrics')
        res.writeHead(500, { 'Content-Type': 'text/plain' }).end('could not collect the metrics\n')
      },
    )
  })
}
