// A chat completion stream relayed to the client as Server-Sent Events
// (docs/ml-gateway-contract.md, "Chat completions"): each event written as
// it comes, `data: [DONE]` at the end, or one error event when the stream
// is cut. Nothing waits in the gateway but the transport's bounded queue:
// while the client does not read (write() returned false), no event is
// taken from the stream, so that queue fills and the stream ends with
// slow_reader.
import type { ServerResponse } from 'node:http'
import type { DrainState } from '../drain.ts'
import type { Log } from '../log.ts'
import { type ChatEvent, type ChatStream, StreamError } from '../upstream/chat.ts'
import type { ChatMetrics, CutReason } from './metrics.ts'

export const SSE_HEADERS = {
  'Content-Type': 'text/event-stream',
  'Cache-Control': 'no-cache',
  // nginx and its kin would buffer the events otherwise.
  'X-Accel-Buffering': 'no',
} as const

// The contract's error events: the same bytes in both gateways.
const MESSAGES: Record<Exclude<CutReason, 'client'>, string> = {
  upstream_timeout: 'the model sent no token in time',
  upstream_error: "the model's stream broke off",
  slow_reader: 'the client read the stream too slowly',
  shutdown: 'the gateway is shutting down',
}

const PREFIX = Buffer.from('data: ')
const SEPARATOR = Buffer.from('\n\n')
export const DONE = Buffer.from('data: [DONE]\n\n')

export function dataEvent(data: Buffer): Buffer {
  return Buffer.concat([PREFIX, data, SEPARATOR])
}

export function errorEvent(code: Exclude<CutReason, 'client'>): Buffer {
  return dataEvent(Buffer.from(JSON.stringify({ error: { message: MESSAGES[code], type: 'server_error', code } })))
}

// The code of the model's own error event, for the log.
function errorCode(data: Buffer): string {
  try {
    const code = (JSON.parse(data.toString('utf8')) as { error?: { code?: unknown } }).error?.code
    return typeof code === 'string' ? code : 'model_error'
  } catch {
    return 'model_error'
  }
}

type Step = { event: ChatEvent | undefined } | { error: unknown } | { cut: CutReason }

export interface RelayOptions {
  gapTimeoutMs: number
  drain: DrainState
  metrics: ChatMetrics
  log: Log
  // When the request arrived (performance.now()): time to first token.
  startedAt: number
}

export class StreamRelay {
  readonly #stream: ChatStream
  readonly #res: ServerResponse
  readonly #options: RelayOptions
  // Settles with why the relay must stop at once: the client went away, or
  // the drain ran out of time (GATEWAY_SHUTDOWN_TIMEOUT_MS).
  readonly #interrupted: Promise<{ cut: CutReason }>
  #stopListening: () => void = () => {}
  #events = 0
  #firstAt = 0
  #lastAt = 0

  constructor(stream: ChatStream, res: ServerResponse, options: RelayOptions) {
    this.#stream = stream
    this.#res = res
    this.#options = options
    this.#interrupted = new Promise((resolve) => {
      const onClose = () => resolve({ cut: 'client' })
      res.once('close', onClose)
      const offCut = options.drain.onCut(() => resolve({ cut: 'shutdown' }))
      this.#stopListening = () => {
        res.off('close', onClose)
        offCut()
      }
    })
  }

  // Relays the whole stream; never throws. The stream is closed at the end
  // (cancelling the generation when it had not ended).
  async run(): Promise<void> {
    const { metrics, drain, startedAt } = this.#options
    const done = metrics.streamStarted()
    metrics.firstToken((performance.now() - startedAt) / 1000)
    try {
      if (this.#res.destroyed) {
        // The client left while the first event was awaited.
        this.#cut('client')
        return
      }
      // Answers that end while draining close their connection, as every
      // other answer does then.
      this.#res.writeHead(200, drain.draining ? { ...SSE_HEADERS, Connection: 'close' } : SSE_HEADERS)
      await this.#relay()
    } finally {
      this.#stopListening()
      this.#stream.close()
      if (drain.draining) this.#closeConnection()
      metrics.streamEnded(this.#events, (this.#lastAt - this.#firstAt) / 1000)
      done()
    }
  }

  async #relay(): Promise<void> {
    const reason = await this.#relayEvents()
    if (reason) this.#cut(reason)
  }

  // Writes the events up to the stream's end; returns why the stream must
  // end early, if it must.
  async #relayEvents(): Promise<CutReason | undefined> {
    for (;;) {
      const step = await this.#next()
      if ('cut' in step) return step.cut
      if ('error' in step) return this.#reasonOf(step.error)
      const { event } = step
      if (event === undefined) {
        this.#res.end(DONE)
        return undefined
      }
      const cut = await this.#write(dataEvent(event.data))
      if (cut) return cut
      if (event.error) {
        // The model's own error event, relayed as it came: the stream ends.
        this.#options.log.warn({ reason: errorCode(event.data) }, 'stream cut')
        this.#res.end()
        return undefined
      }
      this.#counted()
    }
  }

  // Its headers may have promised keep-alive before the drain began: the
  // connection closes once the last bytes are out, so that the server can
  // stop without waiting for the client to leave.
  #closeConnection(): void {
    const { socket } = this.#res
    if (socket) this.#res.once('finish', () => socket.end())
  }

  // The stream's next event, unless the relay is interrupted first.
  #next(): Promise<Step> {
    const next = this.#stream.next(this.#options.gapTimeoutMs).then(
      (event) => ({ event }),
      (error: unknown) => ({ error }),
    )
    return Promise.race([next, this.#interrupted])
  }

  #counted(): void {
    const now = performance.now()
    if (this.#events === 0) this.#firstAt = now
    this.#lastAt = now
    this.#events += 1
  }

  #reasonOf(error: unknown): Exclude<CutReason, 'client' | 'shutdown'> {
    if (error instanceof StreamError) return error.kind
    this.#options.log.error({ err: error }, 'the stream failed')
    return 'upstream_error'
  }

  // Writes one event. A client that does not read makes write() return
  // false: then wait for it to read ('drain') before taking the next event,
  // for at most the gap timeout (the stream's per-write deadline).
  async #write(bytes: Buffer): Promise<CutReason | undefined> {
    if (this.#res.write(bytes)) return undefined
    let timer: NodeJS.Timeout | undefined
    let onDrain: (() => void) | undefined
    const drained = new Promise<undefined>((resolve) => {
      onDrain = () => resolve(undefined)
      this.#res.once('drain', onDrain)
    })
    const stuck = new Promise<{ cut: CutReason }>((resolve) => {
      timer = setTimeout(() => resolve({ cut: 'slow_reader' }), this.#options.gapTimeoutMs)
    })
    try {
      const step = await Promise.race([drained, stuck, this.#interrupted])
      return step?.cut
    } finally {
      clearTimeout(timer)
      if (onDrain) this.#res.off('drain', onDrain)
    }
  }

  // Ends the stream early: the error event when the client can still read
  // it, nothing when it is gone or does not read at all.
  #cut(reason: CutReason): void {
    const { metrics, log } = this.#options
    metrics.cancelled(reason)
    if (reason === 'client') {
      log.info('client closed the request')
      return
    }
    log.warn({ reason }, 'stream cut')
    if (this.#res.writableNeedDrain) {
      // It has not read the last event yet: the connection goes.
      this.#res.destroy()
      return
    }
    this.#res.end(errorEvent(reason))
  }
}
