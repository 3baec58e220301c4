// Every error leaves the gateway as RFC 9457 problem+json (see
// docs/ml-gateway-contract.md, "Errors"). This plugin owns the JSON body
// parser, the error handler, and the 404/405 answers.
import { STATUS_CODES } from 'node:http'
import fp from 'fastify-plugin'
import { HttpProblem, PROBLEM_TYPE, TITLES, problem, requestPath, sendProblem } from '../problem.js'
import { newRequestId } from './request-id.js'

// Fastify error codes that map onto a contract status.
const FASTIFY_CODES = {
  FST_ERR_CTP_BODY_TOO_LARGE: [413, 'request body is larger than GATEWAY_MAX_BODY_BYTES'],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [415, 'Content-Type must be application/json'],
  FST_ERR_CTP_EMPTY_JSON_BODY: [400, 'request body is empty'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [400, 'Content-Length does not match the body'],
}

async function problems(fastify) {
  // Methods per path, to tell 405 from 404 (Fastify answers 404 for both).
  const allowed = new Map()
  fastify.addHook('onRoute', (route) => {
    const methods = allowed.get(route.url) ?? new Set()
    for (const method of [route.method].flat()) {
      methods.add(method)
      if (method === 'GET' && route.exposeHeadRoute !== false) methods.add('HEAD')
    }
    allowed.set(route.url, methods)
  })

  // Parse JSON ourselves so that any parse failure is a plain 400, and keep
  // the raw bytes to forward upstream unchanged.
  fastify.removeAllContentTypeParsers()
  fastify.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    let value
    try {
      value = JSON.parse(body.toString('utf8'))
    } catch (err) {
      done(new HttpProblem(400, `request body is not valid JSON: ${err.message}`))
      return
    }
    request.rawBody = body
    done(null, value)
  })
  fastify.decorateRequest('rawBody', null)

  fastify.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?', 1)[0]
    const methods = allowed.get(path)
    if (methods) {
      const allow = [...methods].sort().join(', ')
      return sendProblem(reply, 405, `method ${request.method} is not allowed; use ${allow}`, {
        Allow: allow,
      })
    }
    return sendProblem(reply, 404, `no route for ${path}`)
  })

  fastify.setErrorHandler((error, request, reply) => {
    if (error instanceof HttpProblem) {
      if (error.status >= 500) request.log.warn({ err: error.cause ?? error }, error.detail)
      return sendProblem(reply, error.status, error.detail, error.headers)
    }
    if (error.validation) {
      return sendProblem(reply, 422, validationDetail(error.validation[0]))
    }
    const known = FASTIFY_CODES[error.code]
    if (known) return sendProblem(reply, known[0], known[1])
    if (error.statusCode >= 400 && error.statusCode < 500) {
      return sendProblem(reply, 400, error.message)
    }
    request.log.error({ err: error }, 'unhandled error')
    return sendProblem(reply, 500, 'the gateway failed to answer')
  })
}

export default fp(problems, { name: 'problems' })

// "body/instances/0 must NOT have fewer than 1 items", from the first ajv error.
function validationDetail({ instancePath, message, params }) {
  const extra = params?.additionalProperty ? ` (${params.additionalProperty})` : ''
  return `body${instancePath} ${message}${extra}`
}

// Fastify's frameworkErrors option: errors raised before routing (a URL
// that does not decode). Hooks do not run here, so set the id header too.
export function frameworkErrors(error, request, reply) {
  reply.header('X-Request-ID', request.id)
  return sendProblem(reply, 400, error.message)
}

// Node's HTTP parser refuses some requests before Fastify sees them: headers
// too large, not HTTP/1.1, too slow to arrive. Fastify's clientErrorHandler
// option: they get a problem too, with a new request id, and the connection
// closes.
const CLIENT_ERRORS = {
  HPE_HEADER_OVERFLOW: [431, 'the request headers are too large'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'the request did not arrive in time'],
}

export function clientErrorHandler(err, socket) {
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  let [status, detail] = CLIENT_ERRORS[err.code] ?? [400, 'the request is not valid HTTP/1.1']
  // The answer under way, if the request got that far (Node's own handler
  // checks it the same way): its path is the problem's instance.
  const response = socket._httpMessage
  if (response?.headersSent || !socket.writable) {
    socket.destroy()
    return
  }
  if (status === 408 && response) detail = 'the body did not arrive in time'
  const requestId = newRequestId()
  this.log.info({ request_id: requestId, status, err: { code: err.code, message: err.message } }, 'request refused by the HTTP parser')
  const instance = response?.req?.url === undefined ? '' : requestPath(response.req.url)
  const body = JSON.stringify(problem(status, detail, instance, requestId))
  socket.end(
    `HTTP/1.1 ${status} ${TITLES[status] ?? STATUS_CODES[status]}\r\n` +
      `Content-Type: ${PROBLEM_TYPE}\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      `X-Request-ID: ${requestId}\r\n` +
      `Date: ${new Date().toUTCString()}\r\n` +
      'Connection: close\r\n\r\n' +
      body,
  )
  // Let the client read the answer, then close for good.
  setTimeout(() => socket.destroy(), 1000).unref()
}
