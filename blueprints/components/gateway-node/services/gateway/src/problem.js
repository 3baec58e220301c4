// RFC 9457 problem details, shaped exactly as docs/ml-gateway-contract.md says:
// {"type","title","status","detail","instance","request_id"}.

// Titles follow RFC 9110 wording (413 and 422 differ from Node's STATUS_CODES).
export const TITLES = Object.freeze({
  400: 'Bad Request',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
})

export const JSON_TYPE = 'application/json'
export const PROBLEM_TYPE = 'application/problem+json'

// An error that becomes a problem response. Route code throws it; the
// problems plugin renders it.
export class HttpProblem extends Error {
  constructor(status, detail, { headers = {}, cause } = {}) {
    super(detail, { cause })
    this.name = 'HttpProblem'
    this.status = status
    this.detail = detail
    this.headers = headers
  }
}

export function problemBody(status, detail, request) {
  return problem(status, detail, requestPath(request.url), request.id)
}

export function problem(status, detail, instance, requestId) {
  return { type: 'about:blank', title: TITLES[status] ?? TITLES[500], status, detail, instance, request_id: requestId }
}

// Send a JSON body with an exact Content-Type. Fastify appends
// "; charset=utf-8" to JSON types when the payload is a string or an object,
// but leaves Buffers alone.
export function sendJson(reply, status, body, type = JSON_TYPE) {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body))
  return reply.code(status).type(type).send(bytes)
}

export function sendProblem(reply, status, detail, headers = {}) {
  reply.headers(headers)
  return sendJson(reply, status, problemBody(status, detail, reply.request), PROBLEM_TYPE)
}

// The request path as the client sent it, percent-encoding kept, without the
// query string (docs/ml-gateway-contract.md: `instance`).
export function requestPath(url) {
  const q = url.indexOf('?')
  return q === -1 ? url : url.slice(0, q)
}
