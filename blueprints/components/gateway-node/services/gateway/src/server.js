// Entry point: load the config, listen, and drain on SIGTERM/SIGINT.
import { buildApp } from './app.js'
import { ConfigError, loadConfig } from './config.js'

let config
try {
  config = loadConfig()
} catch (err) {
  if (!(err instanceof ConfigError)) throw err
  console.error(`gateway: ${err.message}`)
  process.exit(2)
}

const app = buildApp(config)

let stopping = false
async function shutdown(signal) {
  if (stopping) return
  stopping = true
  app.log.info({ signal }, 'draining')
  const timer = setTimeout(() => {
    app.log.error({ timeout_ms: config.shutdownTimeoutMs }, 'drain timed out; exiting')
    process.exit(1)
  }, config.shutdownTimeoutMs)
  timer.unref()
  try {
    await app.close()
    app.log.info('stopped')
    process.exit(0)
  } catch (err) {
    app.log.error({ err }, 'shutdown failed')
    process.exit(1)
  }
}
process.once('SIGTERM', shutdown)
process.once('SIGINT', shutdown)

try {
  await app.listen({ host: config.host, port: config.port })
} catch (err) {
  app.log.fatal({ err }, 'could not start')
  process.exit(1)
}
