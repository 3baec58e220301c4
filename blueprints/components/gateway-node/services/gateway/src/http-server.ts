// Limits of the public HTTP server, and the answer to requests Node's HTTP
// parser refuses before any framework sees them.
import { STATUS_CODES, type ServerOptions } from 'node:http'
import type { Duplex } from 'node:stream'
import type { Log } from './log.ts'
import { PROBLEM_TYPE, TITLES, problem, requestPath } from './problem.ts'
import { newRequestId } from './request-id.ts'

// Each request must arrive whole within REQUEST_TIMEOUT_MS, its headers
// within HEADERS_TIMEOUT_MS (a slow client gets 408). An idle keep-alive
// connection stays open KEEP_ALIVE_MS: longer than the idle timeout of a
// load balancer in front (AWS ALB: 60 s), so that the balancer, not the
// gateway, closes it.
export const HEADERS_TIMEOUT_MS = 5_000
export const REQUEST_TIMEOUT_MS = 30_000
export const KEEP_ALIVE_MS = 120_000
export const MAX_HEADER_BYTES = 64 * 1024

export const SERVER_OPTIONS = {
  headersTimeout: HEADERS_TIMEOUT_MS,
  requestTimeout: REQUEST_TIMEOUT_MS,
  keepAliveTimeout: KEEP_ALIVE_MS,
  maxHeaderSize: MAX_HEADER_BYTES,
  // How often Node checks those timeouts (default 30 s: far too coarse).
  connectionsCheckingInterval: 1_000,
} as const satisfies ServerOptions

const CLIENT_ERRORS: Record<string, [number, string]> = {
  HPE_HEADER_OVERFLOW: [431, 'the request headers are too large'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'the request did not arrive in time'],
}

interface ParserError extends Error {
  code?: string
}

// The answer under way on a socket, if the request got that far (Node's own
// handler looks it up the same way).
interface SocketWithMessage extends Duplex {
  _httpMessage?: { headersSent: boolean; req?: { url?: string } } | null
}

// The server's 'clientError' handler: headers too large, not HTTP/1.1, too
// slow to arrive. They get a problem too, with a new request id, and the
// connection closes.
export function answerClientError(err: ParserError, socket: Duplex, log: Log): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  const known = err.code === undefined ? undefined : CLIENT_ERRORS[err.code]
  const status = known?.[0] ?? 400
  let detail = known?.[1] ?? 'the request is not valid HTTP/1.1'
  const response = (socket as SocketWithMessage)._httpMessage
  if (response?.headersSent === true || !socket.writable) {
    socket.destroy()
    return
  }
  if (status === 408 && response) detail = 'the body did not arrive in time'
  const requestId = newRequestId()
  log.info({ request_id: requestId, status, err: { code: err.code, message: err.message } }, 'request refused by the HTTP parser')
  const url = response?.req?.url
  const body = JSON.stringify(problem(status, detail, url === undefined ? '' : requestPath(url), requestId))
  socket.end(
    `HTTP/1.1 ${status} ${TITLES[status] ?? STATUS_CODES[status] ?? ''}\r\n` +
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
