// Entry point: load the config, listen (public port and metrics port), and
// on SIGTERM/SIGINT stop in two steps: not ready first, then the drain.
import type { Server } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import { buildApp } from './app.ts'
import { type Config, ConfigError, loadConfig } from './config.ts'
import { createMetricsServer } from './metrics-server.ts'

let config: Config
try {
  config = loadConfig()
} catch (err) {
  if (!(err instanceof ConfigError)) throw err
  console.error(`gateway: ${err.message}`)
  process.exit(2)
}

const app = buildApp(config)
let metricsServer: Server | undefined

// Once the drain has run out of time, how long the answers it cut get to
// reach their clients before the process exits anyway.
const CUT_GRACE_MS = 1000

let stopping = false
let cutOff = false
async function shutdown(signal: NodeJS.Signals): Promise<void> {
  if (stopping) return
  stopping = true
  // /readyz fails from now on; requests are still served for
  // GATEWAY_DRAIN_DELAY_MS, while load balancers take the gateway out.
  app.drain.shuttingDown = true
  app.log.info({ signal, drain_delay_ms: config.drainDelayMs }, 'shutting down')
  const timer = setTimeout(() => {
    // Streams still running end with an event that says why; the drain
    // then finishes, or is given up CUT_GRACE_MS later. Either way some
    // answers were cut: exit 1.
    app.log.error({ timeout_ms: config.shutdownTimeoutMs }, 'drain timed out; cutting what still runs')
    cutOff = true
    app.drain.cut()
    setTimeout(() => process.exit(1), CUT_GRACE_MS)
  }, config.drainDelayMs + config.shutdownTimeoutMs)
  timer.unref()
  try {
    if (config.drainDelayMs > 0) await sleep(config.drainDelayMs)
    app.log.info('draining')
    await app.close()
    metricsServer?.closeAllConnections()
    metricsServer?.close()
    app.log.info('stopped')
    process.exit(cutOff ? 1 : 0)
  } catch (err) {
    app.log.error({ err }, 'shutdown failed')
    process.exit(1)
  }
}
process.once('SIGTERM', (signal) => void shutdown(signal))
process.once('SIGINT', (signal) => void shutdown(signal))

try {
  await app.listen({ host: config.host, port: config.port })
  const metrics = createMetricsServer(app.metrics.registry, app.log)
  metricsServer = metrics
  await new Promise<void>((resolve, reject) => {
    metrics.once('error', reject)
    metrics.listen(config.metricsPort, config.metricsHost, resolve)
  })
  app.log.info(`metrics at http://${config.metricsHost}:${config.metricsPort}/metrics`)
} catch (err) {
  app.log.fatal({ err }, 'could not start')
  process.exit(1)
}
