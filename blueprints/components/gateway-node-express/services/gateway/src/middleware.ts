// The middleware around the routes: request ids, request logs and metrics
// first; the 404 and the error handler last. Every answer leaves through
// send(): an exact Content-Type (Express's res.type() would append
// "; charset=utf-8") and, while draining, Connection: close.
import type { ServerResponse } from 'node:http'
import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express'
import type { DrainState } from './drain.ts'
import type { Log, Logger } from './log.ts'
import type { GatewayMetrics } from './metrics.ts'
import { UNMATCHED } from './metrics.ts'
import { NOT_JSON_TYPE, TOO_LARGE } from './predict.ts'
import { HttpProblem, PROBLEM_TYPE, jsonBytes, problem, requestPath } from './problem.ts'
import { requestIdOf } from './request-id.ts'

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace -- Express's own declaration merging
  namespace Express {
    interface Request {
      // The X-Request-ID echoed on the answer and forwarded upstream.
      id: string
      // This request's logger: every line carries its request_id.
      log: Log
      // The JSON body's bytes, forwarded upstream unchanged.
      rawBody?: Buffer
    }
    interface Locals {
      // The route that answered, for the metrics ("unmatched": none did).
      route?: string
      // Who called (src/auth/), for the access log: a name, never a credential.
      caller?: string
    }
  }
}

export function send(res: ServerResponse, drain: DrainState, status: number, contentType: string, body: Buffer, headers: Record<string, string> = {}): void {
  if (drain.draining) res.setHeader('Connection', 'close')
  res.writeHead(status, { ...headers, 'Content-Type': contentType, 'Content-Length': body.length }).end(body)
}

export function sendProblem(req: Request, res: Response, drain: DrainState, status: number, detail: string, headers: Record<string, string> = {}): void {
  send(res, drain, status, PROBLEM_TYPE, jsonBytes(problem(status, detail, requestPath(req.originalUrl), req.id)), headers)
}

// Ids, the request's logger, and, once the answer is out (or the client
// gone), its log line and metrics.
export function requestContext(log: Logger, metrics: GatewayMetrics): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const started = performance.now()
    req.id = requestIdOf(req.headers)
    req.log = log.child({ request_id: req.id })
    res.setHeader('X-Request-ID', req.id)
    res.once('close', () => {
      const seconds = (performance.now() - started) / 1000
      // Closed before the answer was whole: the client went away (499).
      const status = res.writableFinished ? res.statusCode : 499
      metrics.observeRequest(req.method, res.locals.route ?? UNMATCHED, status, seconds)
      // Container healthchecks poll /healthz: keep them out of the logs.
      if (req.path !== '/healthz') {
        const caller = res.locals.caller ? { caller: res.locals.caller } : {}
        req.log.info({ ...caller, req: { method: req.method, url: req.originalUrl }, res: { statusCode: status }, responseTime: seconds * 1000 }, 'request completed')
      }
    })
    next()
  }
}

// Names the route in the metrics.
export function route(path: string): RequestHandler {
  return (req, res, next) => {
    res.locals.route = path
    next()
  }
}

// A known path asked with another method: 405 with Allow.
export function methodNotAllowed(drain: DrainState, allow: string): RequestHandler {
  return (req, res) => {
    sendProblem(req, res, drain, 405, `method ${req.method} is not allowed; use ${allow}`, { Allow: allow })
  }
}

export function notFound(drain: DrainState): RequestHandler {
  return (req, res) => {
    sendProblem(req, res, drain, 404, `no route for ${requestPath(req.originalUrl)}`)
  }
}

// express.json()'s errors (body-parser's `type`) that map onto a contract status.
const BODY_ERRORS: Record<string, [number, string]> = {
  'entity.too.large': [413, TOO_LARGE],
  'request.size.invalid': [400, 'Content-Length does not match the body'],
  'charset.unsupported': [415, `${NOT_JSON_TYPE}, in UTF-8`],
  'encoding.unsupported': [415, 'Content-Encoding is not supported'],
}

interface BodyError extends Error {
  type?: string
  status?: number
}

// The last middleware: every error becomes a problem.
export function problems(drain: DrainState): ErrorRequestHandler {
  return (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    if (res.headersSent) {
      req.log.error({ err }, 'failed after answering')
      res.destroy()
      return
    }
    if (err instanceof HttpProblem) {
      if (err.status >= 500) req.log.warn({ err: err.cause ?? err }, err.detail)
      sendProblem(req, res, drain, err.status, err.detail, err.headers)
      return
    }
    const { type, status, message } = err as BodyError
    const known = type === undefined ? undefined : BODY_ERRORS[type]
    if (known) {
      sendProblem(req, res, drain, known[0], known[1])
    } else if (type === 'entity.parse.failed') {
      sendProblem(req, res, drain, 400, `request body is not valid JSON: ${message}`)
    } else if (type === 'request.aborted') {
      req.log.info('client closed the request')
    } else if (status !== undefined && status >= 400 && status < 500) {
      sendProblem(req, res, drain, 400, message)
    } else {
      req.log.error({ err }, 'unhandled error')
      sendProblem(req, res, drain, 500, 'the gateway failed to answer')
    }
  }
}

