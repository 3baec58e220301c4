// The routes: POST /v1/predict (src/predict.ts has the steps), /healthz and
// /readyz; each path answers its other methods with 405 and Allow.
import express, { type NextFunction, type Request, type RequestHandler, type Response, Router } from 'express'
import { Ajv } from 'ajv'
import type { Authenticator } from './auth/authenticator.ts'
import type { DrainState } from './drain.ts'
import { methodNotAllowed, route, send } from './middleware.ts'
import { EMPTY_BODY, Predictor, checkReady, predictBody, validationDetail } from './predict.ts'
import { HttpProblem, JSON_TYPE, jsonBytes } from './problem.ts'
import { traceparentOf } from './request-id.ts'
import type { Upstream } from './upstream/upstream.ts'

export interface RoutesOptions {
  drain: DrainState
  // Readiness asks it whether it can check credentials.
  authenticator: Authenticator
  upstream: Upstream
  predictor: Predictor
  maxRows: number
  maxBodyBytes: number
  traceSampled: boolean
}

// Before the body is read: draining, the caller, its budget, the media
// type (`json`: the route takes a JSON body), then a slot.
export function admission(predictor: Predictor, { json = true } = {}): RequestHandler {
  return async (req: Request, res: Response, next: NextFunction) => {
    // The caller's name, for the access log.
    res.locals.caller = await predictor.admit(req.headers, req.socket.remoteAddress, res, req.log, { json })
    next()
  }
}

// The JSON body (413, 400), its bytes kept in req.rawBody to forward
// upstream unchanged.
export function jsonBody(maxBodyBytes: number): RequestHandler[] {
  const parse = express.json({
    limit: maxBodyBytes,
    // Any JSON value: its shape is the schema's business (422, not 400).
    strict: false,
    // A compressed body would be inflated past the limit's meaning.
    inflate: false,
    verify: (req, _res, buf) => {
      ;(req as Request).rawBody = buf
    },
  })
  const present: RequestHandler = (req, _res, next) => {
    if (req.rawBody === undefined || req.rawBody.length === 0) throw new HttpProblem(400, EMPTY_BODY)
    next()
  }
  return [parse, present]
}

const HEALTHY = jsonBytes({ status: 'ok' })
const READY = jsonBytes({ status: 'ready' })

export function routes({ drain, authenticator, upstream, predictor, maxRows, maxBodyBytes, traceSampled }: RoutesOptions): Router {
  // Paths as sent: /v1/predict/ and /V1/predict are other paths (404).
  const router = Router({ strict: true, caseSensitive: true })
  // Validate, never fix up: no type coercion, no removal of extra keys.
  const validate = new Ajv({ coerceTypes: false, removeAdditional: false, useDefaults: false }).compile(predictBody(maxRows))

  router.route('/v1/predict')
    .post(
      route('/v1/predict'),
      admission(predictor),
      jsonBody(maxBodyBytes),
      async (req: Request, res: Response) => {
        const [first] = validate(req.body) ? [] : validate.errors ?? []
        if (first) throw new HttpProblem(422, validationDetail(first))
        const answer = await predictor.forward(
          { body: req.rawBody ?? Buffer.alloc(0), requestId: req.id, traceparent: traceparentOf(req.headers, traceSampled) },
          res,
          req.log,
        )
        if (answer === undefined) {
          res.status(499).end() // nobody reads it; counted as 499
          return
        }
        send(res, drain, answer.status, answer.contentType, answer.body)
      },
    )
    .all(methodNotAllowed(drain, 'POST'))

  router.route('/healthz')
    .get(route('/healthz'), (req, res) => {
      send(res, drain, 200, JSON_TYPE, HEALTHY)
    })
    .all(methodNotAllowed(drain, 'GET, HEAD'))

  router.route('/readyz')
    .get(route('/readyz'), async (req, res) => {
      await checkReady(drain, authenticator, upstream, req.log)
      send(res, drain, 200, JSON_TYPE, READY)
    })
    .all(methodNotAllowed(drain, 'GET, HEAD'))

  return router
}
