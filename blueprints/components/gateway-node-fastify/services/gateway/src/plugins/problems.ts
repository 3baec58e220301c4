// Every error leaves the gateway as RFC 9457 problem+json (see
// docs/ml-gateway-contract.md, "Errors"). This plugin owns the JSON body
// parser, the error handler, and the 404/405 answers.
import type { FastifyError, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { EMPTY_BODY, NOT_JSON_TYPE, TOO_LARGE, parseJson, validationDetail } from '../predict.ts'
import { HttpProblem, PROBLEM_TYPE, jsonBytes, problem, requestPath } from '../problem.ts'

declare module 'fastify' {
  interface FastifyRequest {
    // The JSON body's bytes, forwarded upstream unchanged.
    rawBody: Buffer | null
  }
}

// Fastify error codes that map onto a contract status.
const FASTIFY_CODES: Record<string, [number, string]> = {
  FST_ERR_CTP_BODY_TOO_LARGE: [413, TOO_LARGE],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [415, NOT_JSON_TYPE],
  FST_ERR_CTP_EMPTY_JSON_BODY: [400, EMPTY_BODY],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [400, 'Content-Length does not match the body'],
}

export function sendProblem(reply: FastifyReply, status: number, detail: string, headers: Record<string, string> = {}): FastifyReply {
  const body = problem(status, detail, requestPath(reply.request.url), reply.request.id)
  // A Buffer: Fastify would append "; charset=utf-8" to a string or an object.
  return reply.code(status).headers(headers).type(PROBLEM_TYPE).send(jsonBytes(body))
}

const problems: FastifyPluginAsync = async (fastify) => {
  // Methods per path, to tell 405 from 404 (Fastify answers 404 for both).
  const allowed = new Map<string, Set<string>>()
  fastify.addHook('onRoute', (route) => {
    const methods = allowed.get(route.url) ?? new Set<string>()
    for (const method of [route.method].flat()) {
      methods.add(method)
      if (method === 'GET' && route.exposeHeadRoute !== false) methods.add('HEAD')
    }
    allowed.set(route.url, methods)
  })

  // Parse JSON ourselves so that any parse failure is a plain 400, and keep
  // the raw bytes to forward upstream unchanged.
  fastify.removeAllContentTypeParsers()
  fastify.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body: Buffer, done) => {
    let value: unknown
    try {
      value = parseJson(body)
    } catch (err) {
      done(err as HttpProblem, undefined)
      return
    }
    request.rawBody = body
    done(null, value)
  })
  fastify.decorateRequest('rawBody', null)

  fastify.setNotFoundHandler((request, reply) => {
    const path = requestPath(request.url)
    const methods = allowed.get(path)
    if (methods) {
      const allow = [...methods].sort().join(', ')
      return sendProblem(reply, 405, `method ${request.method} is not allowed; use ${allow}`, { Allow: allow })
    }
    return sendProblem(reply, 404, `no route for ${path}`)
  })

  fastify.setErrorHandler((error: FastifyError | HttpProblem, request, reply) => {
    if (error instanceof HttpProblem) {
      if (error.status >= 500) request.log.warn({ err: error.cause ?? error }, error.detail)
      return sendProblem(reply, error.status, error.detail, error.headers)
    }
    const [first] = error.validation ?? []
    if (first) return sendProblem(reply, 422, validationDetail(first))
    const known = FASTIFY_CODES[error.code]
    if (known) return sendProblem(reply, known[0], known[1])
    if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
      return sendProblem(reply, 400, error.message)
    }
    request.log.error({ err: error }, 'unhandled error')
    return sendProblem(reply, 500, 'the gateway failed to answer')
  })
}

export default fp(problems, { name: 'problems' })

// Fastify's frameworkErrors option: errors raised before routing (a URL
// that does not decode). Hooks do not run here, so set the id header too.
export function frameworkErrors(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  void sendProblem(reply.header('X-Request-ID', request.id), 400, error.message)
}
