// The gateway as a Fastify app, made of small plugins: buildApp() is the
// fixed interface server.ts and the tests use (src/gateway-app.ts).
import Fastify, { type FastifyBaseLogger, LogController } from 'fastify'
import type { Config } from './config.ts'
import type { AppOptions, GatewayApp } from './gateway-app.ts'
import { SERVER_OPTIONS, answerClientError } from './http-server.ts'
import { createLogger } from './log.ts'
import drain from './plugins/drain.ts'
import metrics from './plugins/metrics.ts'
import problems, { frameworkErrors } from './plugins/problems.ts'
import requestId, { genReqId } from './plugins/request-id.ts'
import upstream from './plugins/upstream.ts'
import predictor from './plugins/predictor.ts'
import chatRoutes from './routes/chat.ts'
import healthRoutes from './routes/health.ts'
import predictRoutes from './routes/predict.ts'
import { createUpstream } from './upstream/index.ts'
import { createAuthenticator } from './auth/index.ts'
import { createRateLimiter } from './ratelimit/index.ts'

export function buildApp(config: Config, options: AppOptions = {}): GatewayApp {
  const logger: FastifyBaseLogger = options.logger ?? createLogger(config.logLevel)
  const app = Fastify({
    loggerInstance: logger,
    genReqId,
    requestIdHeader: false,
    logController: new LogController({
      requestIdLogLabel: 'request_id',
      // The metrics plugin writes one access log line a request instead.
      disableRequestLogging: true,
    }),
    bodyLimit: config.maxBodyBytes,
    requestTimeout: SERVER_OPTIONS.requestTimeout,
    keepAliveTimeout: SERVER_OPTIONS.keepAliveTimeout,
    http: SERVER_OPTIONS,
    return503OnClosing: false, // the drain plugin answers with a problem instead
    clientErrorHandler(err, socket) {
      answerClientError(err, socket, app.log)
    },
    frameworkErrors,
    ajv: {
      // Validate, never fix up: no type coercion, no removal of extra keys.
      customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false },
    },
  })

  void app.register(requestId, { traceSampled: config.traceSampled })
  void app.register(metrics)
  void app.register(problems)
  void app.register(drain)
  void app.register(upstream, { create: options.createUpstream ?? ((deps) => createUpstream(config, deps)) })
  const authenticator = options.authenticator ?? createAuthenticator(config, logger.child({ component: 'auth' }))
  void app.register(healthRoutes, { authenticator })
  void app.register(predictor, {
    authenticator,
    createRateLimiter: options.createRateLimiter ?? ((deps) => createRateLimiter(config, deps)),
    maxInflight: config.maxInflight,
    upstreamTimeoutMs: config.upstreamTimeoutMs,
  })
  void app.register(predictRoutes, { maxRows: config.maxRows })
  void app.register(chatRoutes, { config, options: options.chat })
  return app
}
