// Builds the gateway: a Fastify app made of small plugins. server.js listens;
// tests call buildApp() and use app.inject().
import Fastify, { LogController } from 'fastify'
import drain from './plugins/drain.js'
import metrics from './plugins/metrics.js'
import { logDestination } from './log.js'
import problems, { clientErrorHandler, frameworkErrors } from './plugins/problems.js'
import requestId, { genReqId } from './plugins/request-id.js'
import upstream from './plugins/upstream.js'
import healthRoutes from './routes/health.js'
import predictRoutes from './routes/predict.js'
import { createUpstream } from './upstream/index.js'

// Limits of the public server. Each request must arrive whole within
// REQUEST_TIMEOUT_MS, its headers within HEADERS_TIMEOUT_MS (a slow client
// gets 408). An idle keep-alive connection stays open KEEP_ALIVE_MS: longer
// than the idle timeout of a load balancer in front (AWS ALB: 60 s), so that
// the balancer, not the gateway, closes it.
export const HEADERS_TIMEOUT_MS = 5_000
export const REQUEST_TIMEOUT_MS = 30_000
export const KEEP_ALIVE_MS = 120_000
export const MAX_HEADER_BYTES = 64 * 1024

// config: from loadConfig(). Options for tests: `logger` (Fastify logger
// option) and `createUpstream` (({ log, onDroppedReply }) => transport).
export function buildApp(config, options = {}) {
  const app = Fastify({
    logger: options.logger ?? { level: config.logLevel, stream: logDestination() },
    genReqId,
    requestIdHeader: false,
    logController: new LogController({
      requestIdLogLabel: 'request_id',
      // Container healthchecks poll /healthz: keep them out of the logs.
      disableRequestLogging: (request) => request.url === '/healthz',
    }),
    bodyLimit: config.maxBodyBytes,
    requestTimeout: REQUEST_TIMEOUT_MS,
    keepAliveTimeout: KEEP_ALIVE_MS,
    http: {
      headersTimeout: HEADERS_TIMEOUT_MS,
      maxHeaderSize: MAX_HEADER_BYTES,
      // How often Node checks those timeouts (default 30 s: far too coarse).
      connectionsCheckingInterval: 1_000,
    },
    return503OnClosing: false, // the drain plugin answers with a problem instead
    clientErrorHandler,
    frameworkErrors,
    ajv: {
      // Validate, never fix up: no type coercion, no removal of extra keys.
      customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false },
    },
  })

  const create = options.createUpstream ?? ((deps) => createUpstream(config, deps))

  app.register(requestId, { traceSampled: config.traceSampled })
  app.register(metrics)
  app.register(problems)
  app.register(drain)
  app.register(upstream, { create })
  app.register(healthRoutes)
  app.register(predictRoutes, {
    maxRows: config.maxRows,
    maxInflight: config.maxInflight,
    upstreamTimeoutMs: config.upstreamTimeoutMs,
  })
  return app
}
