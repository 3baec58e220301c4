// RFC 9457 problem details, shaped exactly as docs/ml-gateway-contract.md says:
// {"type","title","status","detail","instance","request_id"}.

// Titles follow RFC 9110 wording (413 and 422 differ from Node's STATUS_CODES).
export const TITLES: Readonly<Record<number, string>> = Object.freeze({
  400: 'Bad Request',
  401: 'Unauthorized',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
})

export const JSON_TYPE = 'application/json'
export const PROBLEM_TYPE = 'application/problem+json'

// The type of a 429 problem: the IETF RateLimit header fields draft's
// problem type for a client over its quota. Every other problem is
// about:blank (the status says it all).
export const QUOTA_EXCEEDED = 'https://iana.org/assignments/http-problem-types#quota-exceeded'

export interface Problem {
  type: 'about:blank' | typeof QUOTA_EXCEEDED
  title: string
  status: number
  detail: string
  instance: string
  request_id: string
}

export interface HttpProblemOptions {
  headers?: Record<string, string>
  cause?: unknown
}

// An error that becomes a problem response. Route code throws it; the
// framework's error handler renders it.
export class HttpProblem extends Error {
  readonly status: number
  readonly detail: string
  readonly headers: Record<string, string>

  constructor(status: number, detail: string, { headers = {}, cause }: HttpProblemOptions = {}) {
    super(detail, { cause })
    this.name = 'HttpProblem'
    this.status = status
    this.detail = detail
    this.headers = headers
  }
}

// A 503 that asks the client to come back in a second.
export function unavailable(detail: string): HttpProblem {
  return new HttpProblem(503, detail, { headers: { 'Retry-After': '1' } })
}

export function problem(status: number, detail: string, instance: string, requestId: string): Problem {
  const type = status === 429 ? QUOTA_EXCEEDED : 'about:blank'
  return { type, title: TITLES[status] ?? 'Internal Server Error', status, detail, instance, request_id: requestId }
}

// The bytes of a JSON body, compact as JSON.stringify writes it. Sent as a
// Buffer, so that no framework appends "; charset=utf-8" to the type.
export function jsonBytes(body: unknown): Buffer {
  return Buffer.from(JSON.stringify(body))
}

// The request path as the client sent it, percent-encoding kept, without the
// query string (docs/ml-gateway-contract.md: `instance`).
export function requestPath(url: string): string {
  const q = url.indexOf('?')
  return q === -1 ? url : url.slice(0, q)
}
