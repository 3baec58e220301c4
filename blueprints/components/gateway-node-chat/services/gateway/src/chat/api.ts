// POST /v1/chat/completions and GET /v1/models, apart from the framework.
// Each framework's chat routes admit the request as predict's are
// (Predictor.admit: 503 draining, 401, 429, 415 for POST, 503 over
// GATEWAY_MAX_INFLIGHT, sharing predict's slots: a stream holds one until
// it ends), read the body (413, 400), check it (parseChatRequest: 422),
// then call a ChatApi.
import type { ServerResponse } from 'node:http'
import type { Config } from '../config.ts'
import type { DrainState } from '../drain.ts'
import type { Log } from '../log.ts'
import type { GatewayMetrics } from '../metrics.ts'
import type { Predictor } from '../predict.ts'
import { createChatUpstream } from '../upstream/chat-index.ts'
import type { ChatCall, ChatStream, ChatUpstream } from '../upstream/chat.ts'
import type { PredictCall, Upstream, UpstreamAnswer } from '../upstream/upstream.ts'
import type { ChatOptions } from './index.ts'
import { ChatMetrics } from './metrics.ts'
import { StreamRelay } from './relay.ts'

export { parseChatRequest } from './request.ts'

// What models asks upstream with: the transports send `{}` as its payload.
const NO_BODY = Buffer.from('{}')

export interface ChatApiDeps {
  config: Config
  options: ChatOptions | undefined
  upstream: Upstream
  predictor: Predictor
  metrics: GatewayMetrics
  drain: DrainState
}

export type Call = Omit<PredictCall, 'signal'>

export class ChatApi {
  readonly #config: Config
  readonly #predictor: Predictor
  readonly #drain: DrainState
  readonly #metrics: ChatMetrics
  readonly #upstream: ChatUpstream

  constructor({ config, options, upstream, predictor, metrics, drain }: ChatApiDeps) {
    this.#config = config
    this.#predictor = predictor
    this.#drain = drain
    this.#metrics = new ChatMetrics(metrics.registry)
    const create = options?.createChatUpstream ?? createChatUpstream
    this.#upstream = create(upstream, {
      bufferEvents: config.streamBufferEvents,
      onSequenceError: (kind) => this.#metrics.sequenceError(kind),
    })
  }

  // GET /v1/models: relayed as a prediction is. Undefined: the client went away.
  models(call: Omit<Call, 'body'>, res: ServerResponse, log: Log): Promise<UpstreamAnswer | undefined> {
    return this.#predictor.call(res, log, this.#config.upstreamTimeoutMs, (signal) => this.#upstream.models({ ...call, body: NO_BODY, signal }))
  }

  // A completion with stream false: one answer, relayed as a prediction is.
  complete(call: Call, res: ServerResponse, log: Log): Promise<UpstreamAnswer | undefined> {
    return this.#predictor.call(res, log, this.#config.upstreamTimeoutMs, (signal) => this.#upstream.complete({ ...call, stream: false, signal }))
  }

  // A streaming completion, up to its first event: a ChatStream to relay(),
  // an answer to relay as a prediction's (a problem of the ML service), or
  // undefined when the client went away. No first event within
  // GATEWAY_FIRST_TOKEN_TIMEOUT_MS is a 504 problem: nothing was sent yet.
  open(call: Call, res: ServerResponse, log: Log): Promise<ChatStream | UpstreamAnswer | undefined> {
    const { firstTokenTimeoutMs } = this.#config
    const stream = (signal: AbortSignal) => this.#upstream.stream({ ...call, stream: true, signal } satisfies ChatCall, firstTokenTimeoutMs)
    return this.#predictor.call(res, log, firstTokenTimeoutMs, stream, 'the model sent no first token')
  }

  // Relays an opened stream on res, to its end; never throws.
  relay(stream: ChatStream, res: ServerResponse, log: Log, startedAt: number): Promise<void> {
    return new StreamRelay(stream, res, {
      gapTimeoutMs: this.#config.tokenGapTimeoutMs,
      drain: this.#drain,
      metrics: this.#metrics,
      log,
      startedAt,
    }).run()
  }
}

export function isAnswer(value: ChatStream | UpstreamAnswer): value is UpstreamAnswer {
  return 'status' in value
}
