// POST /v1/chat/completions and GET /v1/models (src/chat/api.ts has the
// steps): admitted as predictions are, the body checked by
// parseChatRequest, a stream relayed on the response once its first event
// came; each path answers its other methods with 405 and Allow.
import { type Request, type Response, Router } from 'express'
import { ChatApi, type ChatApiDeps, isAnswer, parseChatRequest } from './chat/api.ts'
import type { DrainState } from './drain.ts'
import { methodNotAllowed, route, send } from './middleware.ts'
import { traceparentOf } from './request-id.ts'
import { admission, jsonBody } from './routes.ts'
import type { UpstreamAnswer } from './upstream/upstream.ts'

// An answer relayed as a prediction's; none: the client went away (499).
function sendAnswer(res: Response, drain: DrainState, answer: UpstreamAnswer | undefined): void {
  if (answer === undefined) {
    res.status(499).end() // nobody reads it
    return
  }
  send(res, drain, answer.status, answer.contentType, answer.body)
}

export function chatRoutes(deps: ChatApiDeps): Router {
  const { config, drain, predictor } = deps
  const chat = new ChatApi(deps)
  const router = Router({ strict: true, caseSensitive: true })
  const callOf = (req: Request) => ({ requestId: req.id, traceparent: traceparentOf(req.headers, config.traceSampled) })

  router.route('/v1/models')
    .get(route('/v1/models'), admission(predictor, { json: false }), async (req: Request, res: Response) => {
      sendAnswer(res, drain, await chat.models(callOf(req), res, req.log))
    })
    .all(methodNotAllowed(drain, 'GET, HEAD'))

  router.route('/v1/chat/completions')
    .post(route('/v1/chat/completions'), admission(predictor), jsonBody(config.maxBodyBytes), async (req: Request, res: Response) => {
      const startedAt = performance.now()
      const body = req.rawBody ?? Buffer.alloc(0)
      const { stream } = parseChatRequest(body)
      const call = { ...callOf(req), body }
      if (!stream) {
        sendAnswer(res, drain, await chat.complete(call, res, req.log))
        return
      }
      const opened = await chat.open(call, res, req.log)
      if (opened === undefined || isAnswer(opened)) {
        sendAnswer(res, drain, opened)
        return
      }
      await chat.relay(opened, res, req.log, startedAt)
    })
    .all(methodNotAllowed(drain, 'POST'))

  return router
}
