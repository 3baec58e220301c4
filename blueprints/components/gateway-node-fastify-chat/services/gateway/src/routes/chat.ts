// POST /v1/chat/completions and GET /v1/models (src/chat/api.ts has the
// steps): admitted as predictions are, the body checked by
// parseChatRequest, a stream relayed on the raw response once its first
// event came (Fastify then leaves the response alone: reply.hijack()).
import type { FastifyPluginAsync, FastifyReply } from 'fastify'
import { ChatApi, isAnswer, parseChatRequest } from '../chat/api.ts'
import type { ChatOptions } from '../chat/index.ts'
import type { Config } from '../config.ts'
import { admission } from '../plugins/predictor.ts'
import type { UpstreamAnswer } from '../upstream/upstream.ts'

interface ChatRoutesOptions {
  config: Config
  options: ChatOptions | undefined
}

// An answer relayed as a prediction's; none: the client went away (499).
function sendAnswer(reply: FastifyReply, answer: UpstreamAnswer | undefined): FastifyReply {
  if (answer === undefined) return reply.code(499).send()
  return reply.code(answer.status).type(answer.contentType).send(answer.body)
}

const ROUTE = '/v1/chat/completions'

const chatRoutes: FastifyPluginAsync<ChatRoutesOptions> = async (fastify, { config, options }) => {
  const chat = new ChatApi({
    config,
    options,
    upstream: fastify.upstream,
    predictor: fastify.predictor,
    metrics: fastify.metrics,
    drain: fastify.drain,
  })

  fastify.get('/v1/models', { onRequest: admission(fastify, { json: false }) }, async (request, reply) => {
    const call = { requestId: request.id, traceparent: request.traceparent }
    return sendAnswer(reply, await chat.models(call, reply.raw, request.log))
  })

  fastify.post(ROUTE, { onRequest: admission(fastify) }, async (request, reply) => {
    const startedAt = performance.now() - reply.elapsedTime
    const body = request.rawBody ?? Buffer.alloc(0)
    const { stream } = parseChatRequest(body)
    const call = { body, requestId: request.id, traceparent: request.traceparent }
    if (!stream) return sendAnswer(reply, await chat.complete(call, reply.raw, request.log))
    const opened = await chat.open(call, reply.raw, request.log)
    if (opened === undefined || isAnswer(opened)) return sendAnswer(reply, opened)
    // The events go out as they come, on the raw response: Fastify's onSend
    // hooks do not run for it, so its request id is set here.
    void reply.hijack()
    reply.raw.setHeader('X-Request-ID', request.id)
    await chat.relay(opened, reply.raw, request.log, startedAt)
    // Fastify reports an answer (metrics, access log) once it is finished;
    // one cut short, the client gone, is reported here, as a 499.
    if (!reply.raw.writableEnded) {
      fastify.metrics.observeRequest(request.method, ROUTE, 499, reply.elapsedTime / 1000)
      request.log.info({ res: { statusCode: 499 }, responseTime: reply.elapsedTime }, 'request completed')
    }
    return reply
  })
}

export default chatRoutes
