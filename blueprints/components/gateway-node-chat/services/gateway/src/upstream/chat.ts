// What the chat completions API needs from its upstream transport
// (streaming = true): the transport's chat component implements it (see
// docs/ml-gateway-contract.md, "Chat completions").
import type { PredictCall, Upstream, UpstreamAnswer } from './upstream.ts'

// A chat completion to forward: the client's JSON bytes, unchanged.
export interface ChatCall extends PredictCall {
  // The body's "stream" is true.
  stream: boolean
}

// One event of a stream: the payload of one `data:` line, relayed verbatim.
// `error`: the model's own error event (`{"error":...}`); the stream ends
// after it.
export interface ChatEvent {
  data: Buffer
  error: boolean
}

// Why a stream ended before its end: each is an error event of the contract.
export type StreamErrorKind = 'slow_reader' | 'upstream_error' | 'upstream_timeout'

export class StreamError extends Error {
  readonly kind: StreamErrorKind

  constructor(kind: StreamErrorKind, message: string, options: { cause?: unknown } = {}) {
    super(message, options)
    this.name = 'StreamError'
    this.kind = kind
  }
}

export interface ChatStream {
  // The next event, waiting at most timeoutMs (the token gap timeout:
  // then StreamError 'upstream_timeout'); undefined after the last event
  // (the upstream's end, `[DONE]`). Throws StreamError 'slow_reader' once
  // more than the buffer's events waited (those still waiting are dropped),
  // 'upstream_error' when the upstream stream broke off.
  next(timeoutMs: number): Promise<ChatEvent | undefined>
  // Ends the stream; when it had not ended, the generation is cancelled
  // upstream (HTTP: the request is aborted; streams: the cancel key).
  // Always called, once.
  close(): void
}

export interface ChatUpstream {
  // GET /v1/models, relayed as predict's answers are (same budget, same
  // UpstreamError kinds).
  models(call: PredictCall): Promise<UpstreamAnswer>
  // A completion with stream false: the whole completion, or a problem.
  complete(call: ChatCall): Promise<UpstreamAnswer>
  // Starts a streaming completion and waits up to firstTokenTimeoutMs for
  // its first event (UpstreamError 'timeout' -> 504) or an ordinary answer
  // (a problem, relayed as predict's). A ChatStream's first next() gives
  // that first event. Honors call.signal (UpstreamError 'canceled').
  stream(call: ChatCall, firstTokenTimeoutMs: number): Promise<ChatStream | UpstreamAnswer>
}

// What a transport's chat side needs beside UpstreamDeps.
export interface ChatUpstreamOptions {
  // GATEWAY_STREAM_BUFFER_EVENTS: the most events waiting per stream.
  bufferEvents: number
  // Counts gateway_chat_sequence_errors_total{kind} (streams transport).
  onSequenceError: (kind: 'gap' | 'duplicate') => void
}

// Each transport's chat component (gateway-node-TRANSPORT-chat) places
// src/upstream/chat-index.ts, the fixed interface the chat API imports:
//
//   export function createChatUpstream(upstream: Upstream, options: ChatUpstreamOptions): ChatUpstream
//
// given the Upstream its src/upstream/index.ts created (the streams
// transport shares that one's Redis client and reply reader).
export type CreateChatUpstream = (upstream: Upstream, options: ChatUpstreamOptions) => ChatUpstream
