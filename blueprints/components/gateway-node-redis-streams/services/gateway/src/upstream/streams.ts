// Redis Streams transport (docs/ml-gateway-contract.md, "Redis Streams
// protocol"): XADD each request to {prefix}:requests, then wait for the
// worker's reply on this instance's own reply stream. One reader per
// instance does a blocking XREAD on a dedicated connection, hands each
// reply to the waiting request by its correlation id and deletes what it
// read. The instance is ready while some worker holds a live lease in
// {prefix}:workers. The request's time budget covers everything, a Redis
// that stops answering included.
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis, type RedisOptions } from 'ioredis'
import type { Log } from '../log.ts'
import { JSON_TYPE, PROBLEM_TYPE } from '../problem.ts'
import { type PredictCall, type Upstream, type UpstreamAnswer, type UpstreamDeps, UpstreamError } from './upstream.ts'

export const GROUP = 'ml-workers'
const BLOCK_MS = 1000
const READ_COUNT = 512 // a backlog comes in slices
const REPLY_TTL_SECONDS = 3600
const REFRESH_TTL_EVERY_MS = 60_000
const RETRY_READ_AFTER_MS = 500

export interface StreamsUpstreamConfig {
  readonly instanceId: string
  readonly redisUrl: string
  readonly streamPrefix: string
  readonly streamMaxlen: number
  readonly upstreamTimeoutMs: number
}

export interface StreamsUpstream extends Upstream {
  readonly requestStream: string
  readonly replyStream: string
  readonly exchange: StreamsExchange
}

// An entry of the reply stream: its fields by name.
export type ReplyFields = ReadonlyMap<string, string>

// Who waits for the entries of one correlation id.
export interface Route {
  // Each entry for the id, in the order read. It must not block: the one
  // reader serves every request of this instance.
  entry(fields: ReplyFields): void
  // The transport closes: no entry will come.
  closed(err: UpstreamError): void
}

// The exchanges other parts of the gateway build on this transport (its
// chat side): the same streams, reader and reply rules as predict's.
export interface StreamsExchange {
  readonly streamPrefix: string
  // The client for commands (never the reader's blocking connection).
  readonly commands: Redis
  // One request, one reply, within the upstream budget: as predict's.
  request(op: string, call: PredictCall): Promise<UpstreamAnswer>
  // XADDs a request entry of `op`, with deadline_ms `budgetMs` from now,
  // and routes the entries that come for its id to `route` until unroute().
  // `sent` settles with the XADD (UpstreamError 'unavailable' when it failed).
  send(op: string, call: PredictCall, budgetMs: number, route: Route): { id: string; sent: Promise<void> }
  unroute(id: string): void
  // An ordinary reply's answer, as predict's (throws UpstreamError).
  answerOf(fields: ReplyFields): UpstreamAnswer
}

type Timeouts = Pick<RedisOptions, 'commandTimeout' | 'socketTimeout' | 'blockingTimeout'>

// XREAD's answer: [[stream, [[entry id, [field, value, ...]], ...]], ...] or null.
type XreadResult = [string, [string, string[]][]][] | null

export function createStreamsUpstream(config: StreamsUpstreamConfig, { log, onDroppedReply }: UpstreamDeps): StreamsUpstream {
  const requestStream = `${config.streamPrefix}:requests`
  const replyStream = `${config.streamPrefix}:replies:${config.instanceId}`
  const workers = `${config.streamPrefix}:workers`

  // A command that gets no answer fails after the request budget, and a
  // socket that stays silent that long is dropped and reconnected.
  const commands = connect(config, log, 'commands', {
    commandTimeout: config.upstreamTimeoutMs,
    socketTimeout: config.upstreamTimeoutMs + 1000,
  })
  // Blocking XREAD only: a read that outlives its BLOCK is given up.
  const reader = connect(config, log, 'reply-reader', {
    blockingTimeout: BLOCK_MS + 1000,
    socketTimeout: BLOCK_MS + 2000,
  })
  const routes = new Map<string, Route>() // correlation id -> who waits
  const stopping = new AbortController() // aborted by close()
  const stopped = () => stopping.signal.aborted
  let readLoop: Promise<void> = Promise.resolve()
  let refreshTimer: NodeJS.Timeout | undefined
  let nextTtlRefresh = 0

  function deliver(list: string[]): void {
    const fields = new Map<string, string>()
    for (let i = 0; i + 1 < list.length; i += 2) fields.set(list[i] ?? '', list[i + 1] ?? '')
    const id = fields.get('id') ?? ''
    const route = routes.get(id)
    if (!route) {
      onDroppedReply()
      log.debug({ correlation_id: id }, 'dropped a reply nobody waits for')
      return
    }
    route.entry(fields)
  }

  function answerOf(reply: ReplyFields): UpstreamAnswer {
    const status = Number(reply.get('status'))
    const body = reply.get('body')
    if (!Number.isInteger(status) || status < 200 || status > 599 || body === undefined) {
      throw new UpstreamError('bad_response', 'the worker sent a malformed reply')
    }
    if (status >= 500 && status !== 504) {
      // A request the worker could not answer (a dead letter): 502, as over HTTP.
      throw new UpstreamError('server_error', `the worker answered ${status}`)
    }
    return { status, body: Buffer.from(body), contentType: status < 300 ? JSON_TYPE : PROBLEM_TYPE }
  }

  function send(op: string, { body, requestId, traceparent }: PredictCall, budgetMs: number, route: Route): { id: string; sent: Promise<void> } {
    if (stopped()) throw new UpstreamError('unavailable', 'the gateway is shutting down')
    if (commands.status !== 'ready') {
      throw new UpstreamError('unavailable', `Redis is not connected (${commands.status})`)
    }
    const id = randomBytes(16).toString('hex')
    routes.set(id, route)
    const sent = commands.xadd(
      requestStream, 'MAXLEN', '~', config.streamMaxlen, '*',
      'id', id,
      'op', op,
      'request_id', requestId,
      'reply_to', replyStream,
      'deadline_ms', String(Date.now() + budgetMs),
      'payload', body,
      'traceparent', traceparent,
    ).then(
      () => {},
      (err: unknown) => {
        throw new UpstreamError('unavailable', `XADD to Redis failed: ${(err as Error).message}`, { cause: err })
      },
    )
    return { id, sent }
  }

  // One reply within the upstream budget, however long Redis takes to
  // answer the XADD: the timer bounds the whole request.
  async function request(op: string, call: PredictCall): Promise<UpstreamAnswer> {
    const { promise, resolve, reject } = Promise.withResolvers<ReplyFields>()
    const timer = setTimeout(() => {
      reject(new UpstreamError('timeout', `no reply from a worker within ${config.upstreamTimeoutMs} ms`))
    }, config.upstreamTimeoutMs)
    let id: string | undefined
    try {
      const sending = send(op, call, config.upstreamTimeoutMs, { entry: resolve, closed: reject })
      id = sending.id
      sending.sent.catch(reject) // unless answered, or timed out, already
      return answerOf(await promise)
    } finally {
      clearTimeout(timer)
      if (id !== undefined) routes.delete(id)
    }
  }

  async function readReplies(): Promise<void> {
    let lastId = '0' // the stream is new: everything in it is for us
    let failing = false
    while (!stopped()) {
      let result: XreadResult
      try {
        result = await reader.xread('COUNT', READ_COUNT, 'BLOCK', BLOCK_MS, 'STREAMS', replyStream, lastId)
        failing = false
      } catch (err) {
        if (stopped()) break
        if (!failing) log.warn({ err }, 'reading the reply stream failed; retrying')
        failing = true
        await sleep(RETRY_READ_AFTER_MS)
        continue
      }
      const read: string[] = []
      for (const [, entries] of result ?? []) {
        for (const [entryId, fields] of entries) {
          lastId = entryId
          read.push(entryId)
          deliver(fields)
        }
      }
      // A reply read is of no more use: keep the stream empty.
      if (read.length > 0) {
        commands.xdel(replyStream, ...read).catch((err: unknown) => log.debug({ err }, 'deleting read replies failed'))
      }
      // A worker's XADD creates the stream without a TTL: set it soon after.
      if (result && Date.now() >= nextTtlRefresh) {
        nextTtlRefresh = Date.now() + REFRESH_TTL_EVERY_MS
        void refreshTtl()
      }
    }
  }

  async function refreshTtl(): Promise<void> {
    try {
      await commands.expire(replyStream, REPLY_TTL_SECONDS)
    } catch (err) {
      log.warn({ err }, 'refreshing the reply stream TTL failed')
    }
  }

  return {
    requestStream,
    replyStream,

    async start() {
      try {
        await commands.xgroup('CREATE', requestStream, GROUP, '0', 'MKSTREAM')
      } catch (err) {
        if (!(err as Error).message.startsWith('BUSYGROUP')) {
          log.warn({ err }, 'could not create the consumer group; the worker will')
        }
      }
      await refreshTtl()
      refreshTimer = setInterval(() => void refreshTtl(), REFRESH_TTL_EVERY_MS).unref()
      readLoop = readReplies()
    },

    exchange: {
      streamPrefix: config.streamPrefix,
      commands,
      request,
      send,
      unroute: (id) => routes.delete(id),
      answerOf,
    },

    // Resolves to the worker's reply; throws UpstreamError.
    predict(call: PredictCall): Promise<UpstreamAnswer> {
      return request('predict', call)
    },

    // Resolves when a request would be answered: Redis answers within the
    // upstream budget, and some worker's lease in {prefix}:workers ends after
    // Redis's own TIME (both read in one round trip: only Redis's clock counts).
    async ready() {
      if (commands.status !== 'ready') throw new Error(`Redis is not connected (${commands.status})`)
      let timer: NodeJS.Timeout | undefined
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('Redis did not answer in time')), config.upstreamTimeoutMs)
      })
      let replies: [Error | null, unknown][] | null
      try {
        replies = await Promise.race([commands.pipeline().time().zrange(workers, '0', '0', 'REV', 'WITHSCORES').exec(), timeout])
      } finally {
        clearTimeout(timer)
      }
      const [[timeErr, time] = [null, null], [leaseErr, last] = [null, null]] = replies ?? []
      const failed = timeErr ?? leaseErr
      if (failed) throw failed
      const [seconds, micros] = time as [string, string]
      const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000)
      const lease = last as string[]
      if (lease.length === 0 || Number(lease[1]) <= now) throw new Error('no ML worker holds a live lease')
    },

    async close() {
      stopping.abort()
      clearInterval(refreshTimer)
      for (const route of [...routes.values()]) {
        route.closed(new UpstreamError('unavailable', 'the gateway is shutting down'))
      }
      routes.clear()
      reader.disconnect() // ends the blocking XREAD at once
      // ...except while ioredis waits to reconnect: then the XREAD queued
      // offline never settles, so do not wait for it forever.
      await Promise.race([readLoop, sleep(BLOCK_MS + RETRY_READ_AFTER_MS, undefined, { ref: false })])
      if (commands.status === 'ready') {
        try {
          await commands.del(replyStream)
          await commands.quit()
          return
        } catch (err) {
          log.warn({ err }, 'could not delete the reply stream')
        }
      }
      commands.disconnect()
    },
  }
}

function connect(config: StreamsUpstreamConfig, log: Log, role: string, options: Timeouts): Redis {
  const client = new Redis(config.redisUrl, {
    connectionName: `gateway:${config.instanceId}:${role}`,
    maxRetriesPerRequest: 1, // fail fast (502) rather than queue while Redis is down
    keepAlive: 10_000,
    ...options,
  })
  // ioredis emits an error per failed reconnect: log the transitions only.
  let healthy = true
  client.on('error', (err: Error) => {
    if (healthy) log.warn({ err, role }, 'Redis connection error')
    healthy = false
  })
  client.on('ready', () => {
    if (!healthy) log.info({ role }, 'Redis connection restored')
    healthy = true
  })
  return client
}
