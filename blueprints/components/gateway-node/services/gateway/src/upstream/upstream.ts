// What the gateway needs from its upstream transport, whichever it is: the
// transport component's src/upstream/index.ts implements it.
import type { Log } from '../log.ts'

// One prediction to forward: the client's JSON bytes, unchanged.
export interface PredictCall {
  body: Buffer
  requestId: string
  traceparent: string
  // Aborts the call: the client went away.
  signal?: AbortSignal
}

// The upstream's answer, for 200 and the contract's 4xx statuses.
export interface UpstreamAnswer {
  status: number
  body: Buffer
  contentType: string
}

export interface Upstream {
  // Called once the app is ready, before it listens.
  start(): Promise<void>
  // Resolves to the answer; throws UpstreamError when there is none.
  predict(call: PredictCall): Promise<UpstreamAnswer>
  // Resolves when a prediction would be answered.
  ready(): Promise<void>
  // Called after the server stopped (in-flight requests answered).
  close(): Promise<void>
}

// What the app gives a transport it builds.
export interface UpstreamDeps {
  log: Log
  onDroppedReply: () => void
}

// "timeout" (-> 504), "unavailable", "server_error" or "bad_response"
// (-> 502), "canceled" (the client went away: nobody gets an answer).
export type UpstreamErrorKind = 'timeout' | 'unavailable' | 'server_error' | 'bad_response' | 'canceled'

// The label of gateway_upstream_requests_total.
export type Outcome = UpstreamErrorKind | 'ok' | 'client_error'

// What a transport throws when it cannot produce an upstream answer.
export class UpstreamError extends Error {
  readonly kind: UpstreamErrorKind
  readonly status: 502 | 504

  constructor(kind: UpstreamErrorKind, message: string, options: { cause?: unknown } = {}) {
    super(message, options)
    this.name = 'UpstreamError'
    this.kind = kind
    this.status = kind === 'timeout' ? 504 : 502
  }
}
