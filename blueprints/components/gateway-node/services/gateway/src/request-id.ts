// Request ids and trace context (docs/ml-gateway-contract.md, "Request ids
// and tracing"): the client's X-Request-ID when well formed, else a new one;
// the client's traceparent when valid, else a new trace.
import { randomFillSync } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'

const CLIENT_ID = /^[A-Za-z0-9._:-]{1,128}$/
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/

// Random bytes come from a pool filled 4 KiB at a time (what
// crypto.randomUUID does): one call into the CSPRNG per 170 requests, not
// two or three a request.
const POOL_BYTES = 4096
const pool = Buffer.alloc(POOL_BYTES)
let used = POOL_BYTES

function hex(bytes: number): string {
  if (used + bytes > POOL_BYTES) {
    randomFillSync(pool)
    used = 0
  }
  const text = pool.toString('hex', used, used + bytes)
  used += bytes
  return text
}

export const newRequestId = (): string => hex(16)

// Keep the client's X-Request-ID when it is well formed, else make one.
export function requestIdOf(headers: IncomingHttpHeaders): string {
  const id = headers['x-request-id']
  return typeof id === 'string' && CLIENT_ID.test(id) ? id : newRequestId()
}

export function validTraceparent(value: unknown): value is string {
  if (typeof value !== 'string') return false
  const m = TRACEPARENT.exec(value)
  if (!m) return false
  const [, version, traceId = '', parentId = '', , rest] = m
  if (version === 'ff') return false
  if (version === '00' && rest !== undefined) return false
  return !/^0+$/.test(traceId) && !/^0+$/.test(parentId)
}

// A new trace, sampled or not (GATEWAY_TRACE_SAMPLED): the gateway does not
// decide for a tracing backend it does not know.
export function newTraceparent(sampled = false): string {
  return `00-${hex(16)}-${hex(8)}-${sampled ? '01' : '00'}`
}

// The traceparent to forward upstream: the client's when valid, else a new one.
export function traceparentOf(headers: IncomingHttpHeaders, sampled: boolean): string {
  const header = headers.traceparent
  return validTraceparent(header) ? header : newTraceparent(sampled)
}
