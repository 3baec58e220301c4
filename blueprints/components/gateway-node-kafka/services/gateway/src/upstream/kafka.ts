// Kafka transport (docs/ml-gateway-contract.md, "RabbitMQ and Kafka
// protocol", "Kafka"): each request is a record on {prefix}.requests (key
// and `id` header: a fresh correlation id), produced idempotently with
// acks=all; the workers answer on {prefix}.replies, in the partition the
// request named (`reply_partition`: crc32 of this instance's id). One
// reader per instance fetches that partition by direct assignment, with no
// consumer group (a join or a rebalance would stall replies for seconds),
// from the end offset it found at start, and hands each reply to the
// waiting request by its `id` header; other instances may share the
// partition, so replies nobody here waits for are dropped (and counted).
// The instance is ready while the workers' group is Stable with a member.
//
// The client is @platformatic/kafka: pure JavaScript, maintained, with the
// low-level Fetch a group-less reader needs. kafkajs is unmaintained, and
// @confluentinc/kafka-javascript builds librdkafka, a native addon, at
// install time.
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { crc32 } from 'node:zlib'
import { Admin, Consumer, IS_CONTROL, type KafkaRecord, ProduceAcks, Producer, findErrorBy } from '@platformatic/kafka'
import { JSON_TYPE, PROBLEM_TYPE } from '../problem.ts'
import { type PredictCall, type Upstream, type UpstreamAnswer, type UpstreamDeps, UpstreamError } from './upstream.ts'

// How long one fetch waits on the broker for a reply: also how long close()
// may wait for the reader.
const FETCH_WAIT_MS = 500
const FETCH_MAX_BYTES = 4 * 1024 * 1024
// /readyz asks the broker about the workers' group at most this often.
const READY_CACHE_MS = 1000
// Reconnecting: 100 ms, doubling up to 5 s, with jitter.
const BACKOFF_MIN_MS = 100
const BACKOFF_MAX_MS = 5000
// start() waits for the reader's first connection for at most this many
// tries (a topic just created may have no leader for a moment).
const START_TRIES = 4
const HOUR_MS = '3600000'
const FIVE_MINUTES_MS = '300000'
const EMPTY = Buffer.alloc(0)

export interface KafkaUpstreamConfig {
  readonly instanceId: string
  readonly kafkaBrokers: readonly string[]
  readonly busPrefix: string
  readonly requestPartitions: number
  readonly replyPartitions: number
  readonly upstreamTimeoutMs: number
}

// The names under BUS_PREFIX.
export interface Topics {
  readonly requests: string
  readonly replies: string
  readonly cancel: string
  // The workers' consumer group.
  readonly group: string
}

export function topicsOf(prefix: string): Topics {
  return {
    requests: `${prefix}.requests`,
    replies: `${prefix}.replies`,
    cancel: `${prefix}.cancel`,
    group: `${prefix}.ml-workers`,
  }
}

// This instance's partition of the replies topic: IEEE CRC-32 of its id,
// modulo the topic's partition count.
export function replyPartitionOf(instanceId: string, partitions: number): number {
  return crc32(instanceId) % partitions
}

// A record of the replies topic: its headers (UTF-8 text) and its value.
export interface Reply {
  readonly headers: ReadonlyMap<string, string>
  // The body (an ordinary reply) or the data (a stream entry); undefined
  // for a record without a value.
  readonly value: Buffer | undefined
}

// Who waits for the replies of one correlation id.
export interface Route {
  // Each reply for the id, in the order read. It must not block: the one
  // reader serves every request of this instance.
  entry(reply: Reply): void
  // The transport closes: no reply will come.
  closed(err: UpstreamError): void
}

// What the chat side of this transport builds on: the same topics, reader
// and reply rules as predict's.
export interface KafkaExchange {
  // One request, one reply, within the upstream budget: as predict's.
  request(op: string, call: PredictCall): Promise<UpstreamAnswer>
  // Produces a request record of `op`, with deadline_ms `budgetMs` from now,
  // and routes the replies that come for its id to `route` until unroute().
  // `sent` settles once the broker acknowledged the record
  // (UpstreamError 'unavailable' when it did not).
  send(op: string, call: PredictCall, budgetMs: number, route: Route): { id: string; sent: Promise<void> }
  unroute(id: string): void
  // An ordinary reply's answer, as predict's (throws UpstreamError).
  answerOf(reply: Reply): UpstreamAnswer
  // Tells the workers to stop generating `id` (a record on the cancel
  // topic). Never throws: a cancel that is lost costs a generation that runs
  // to its end.
  cancel(id: string): void
}

export interface KafkaUpstream extends Upstream {
  readonly topics: Topics
  // This instance's partition of the replies topic, once known.
  readonly replyPartition: number | undefined
  readonly exchange: KafkaExchange
}

export function createKafkaUpstream(config: KafkaUpstreamConfig, { log, onDroppedReply }: UpstreamDeps): KafkaUpstream {
  const topics = topicsOf(config.busPrefix)
  const clientId = `gateway-${config.instanceId}`
  // The client's own timeouts (connect, request: 5 s) stay: the request's
  // deadline bounds what a caller waits.
  const common = { bootstrapBrokers: [...config.kafkaBrokers] }
  // Linger: none. Each send() is one Produce request, acknowledged by all
  // in-sync replicas; idempotence makes the client's own retries safe.
  const producer = new Producer({ ...common, clientId, idempotent: true, acks: ProduceAcks.ALL, retries: 1, retryDelay: BACKOFF_MIN_MS })
  // Used for metadata, offsets and Fetch only: it never joins a group, so
  // the broker never sees the group name the client requires.
  const reader = new Consumer({ ...common, clientId: `${clientId}-replies`, groupId: `${config.busPrefix}.gateway.${config.instanceId}`, retries: false })
  const admin = new Admin({ ...common, clientId: `${clientId}-admin`, retries: false })

  const routes = new Map<string, Route>() // correlation id -> who waits
  const stopping = new AbortController() // aborted by close()
  const stopped = () => stopping.signal.aborted
  let replyPartition: number | undefined
  let offset = 0n // the next offset of the reply partition to read
  let connected = false
  let everConnected = false
  let readLoop: Promise<void> = Promise.resolve()
  let readiness: { at: number; check: Promise<void> } | undefined
  // Settles when the reader first connected, or gave up START_TRIES times.
  const started = Promise.withResolvers<undefined>()

  function markUp(): void {
    if (!connected) log.info({ reply_partition: replyPartition }, 'Kafka connection up')
    connected = true
    everConnected = true
    started.resolve(undefined)
  }

  function markDown(err: unknown): void {
    if (connected) log.warn({ err }, 'Kafka connection lost; reconnecting')
    connected = false
  }

  // Creates the topics the gateway needs (an existing one is fine), finds
  // its reply partition and the partition's end offset: older replies are
  // not for this instance.
  async function prepare(): Promise<void> {
    await createTopic(admin, topics.requests, config.requestPartitions, HOUR_MS)
    await createTopic(admin, topics.replies, config.replyPartitions, HOUR_MS)
    await createTopic(admin, topics.cancel, 1, FIVE_MINUTES_MS)
    const metadata = await reader.metadata({ topics: [topics.replies], forceUpdate: true })
    const count = metadata.topics.get(topics.replies)?.partitionsCount ?? 0
    if (count < 1) throw new Error(`the topic ${topics.replies} has no partitions`)
    const partition = replyPartitionOf(config.instanceId, count)
    offset = await endOffset(partition)
    replyPartition = partition
  }

  async function endOffset(partition: number): Promise<bigint> {
    const offsets = await reader.listOffsets({ topics: [topics.replies], partitions: { [topics.replies]: [partition] } })
    const end = offsets.get(topics.replies)?.[partition]
    if (end === undefined) throw new Error(`no end offset for ${topics.replies}/${partition}`)
    return end
  }

  // One Fetch of the reply partition (it waits up to FETCH_WAIT_MS for a
  // record), and every record it brought delivered in order.
  async function fetchOnce(partition: number, refreshMetadata: boolean): Promise<void> {
    const metadata = await reader.metadata({ topics: [topics.replies], forceUpdate: refreshMetadata })
    const topic = metadata.topics.get(topics.replies)
    const leader = topic?.partitions[partition]?.leader
    if (!topic || leader === undefined || leader < 0) throw new Error(`${topics.replies}/${partition} has no leader`)
    const response = await reader.fetch({
      node: leader,
      maxWaitTime: FETCH_WAIT_MS,
      topics: [{
        topicId: topic.id,
        partitions: [{ partition, fetchOffset: offset, currentLeaderEpoch: -1, lastFetchedEpoch: -1, partitionMaxBytes: FETCH_MAX_BYTES }],
      }],
    })
    for (const answer of response.responses) {
      for (const part of answer.partitions) {
        if (part.partitionIndex !== partition) continue
        for (const batch of part.records ?? []) {
          // Control batches (transaction markers) hold no reply, but take offsets.
          if ((batch.attributes & IS_CONTROL) === 0) {
            for (const record of batch.records) {
              if (batch.firstOffset + BigInt(record.offsetDelta) >= offset) deliver(record)
            }
          }
          const next = batch.firstOffset + BigInt(batch.lastOffsetDelta) + 1n
          if (next > offset) offset = next
        }
      }
    }
  }

  // The reader: prepares (until it succeeds), then fetches until close().
  // A broker that goes away is retried with a growing, jittered delay; while
  // it is away requests get 502 at once and /readyz 503.
  async function readReplies(): Promise<void> {
    let backoff = BACKOFF_MIN_MS
    let refreshMetadata = false
    let failures = 0
    while (!stopped()) {
      try {
        if (replyPartition === undefined) await prepare()
        await fetchOnce(replyPartition as number, refreshMetadata)
        refreshMetadata = false
        backoff = BACKOFF_MIN_MS
        markUp()
      } catch (err) {
        if (stopped()) break
        if (findErrorBy(err as Error, 'apiId', 'OFFSET_OUT_OF_RANGE') && replyPartition !== undefined) {
          // The partition was emptied by retention, or made anew: what is
          // left to read starts at its end.
          try {
            offset = await endOffset(replyPartition)
            log.warn({ err }, 'the reply offset was out of range; reading on from the end')
            continue
          } catch {
            // The broker did not answer: retried as any failure.
          }
        }
        if (topicGone(err)) {
          // A broker that came back without its data, or a topic deleted:
          // make the topics again, and read the new partition from its end.
          replyPartition = undefined
        }
        markDown(err)
        if (!everConnected && ++failures === START_TRIES) {
          log.warn({ err }, 'Kafka is not reachable yet; retrying in the background')
          started.resolve(undefined)
        }
        refreshMetadata = true
        await sleep(backoff * (0.8 + Math.random() * 0.4), undefined, { signal: stopping.signal }).catch(() => {})
        backoff = Math.min(backoff * 2, BACKOFF_MAX_MS)
      }
    }
  }

  function deliver(record: KafkaRecord): void {
    const headers = new Map<string, string>()
    for (const [key, value] of record.headers) headers.set(key?.toString('utf8') ?? '', value?.toString('utf8') ?? '')
    const id = headers.get('id') ?? ''
    const route = routes.get(id)
    if (!route) {
      onDroppedReply()
      log.debug({ correlation_id: id }, 'dropped a reply nobody waits for')
      return
    }
    route.entry({ headers, value: record.value ?? undefined })
  }

  function answerOf(reply: Reply): UpstreamAnswer {
    const status = Number(reply.headers.get('status'))
    if (!Number.isInteger(status) || status < 200 || status > 599 || reply.value === undefined) {
      throw new UpstreamError('bad_response', 'the worker sent a malformed reply')
    }
    if (status >= 500 && status !== 504) {
      // A request the worker could not answer (a dead letter): 502, as over HTTP.
      throw new UpstreamError('server_error', `the worker answered ${status}`)
    }
    return { status, body: reply.value, contentType: status < 300 ? JSON_TYPE : PROBLEM_TYPE }
  }

  function send(op: string, { body, requestId, traceparent }: PredictCall, budgetMs: number, route: Route): { id: string; sent: Promise<void> } {
    if (stopped()) throw new UpstreamError('unavailable', 'the gateway is shutting down')
    if (!connected || replyPartition === undefined) throw new UpstreamError('unavailable', 'Kafka is not connected')
    const id = randomBytes(16).toString('hex')
    routes.set(id, route)
    const headers = new Map<Buffer, Buffer>()
    for (const [name, value] of [
      ['id', id],
      ['op', op],
      ['request_id', requestId],
      ['deadline_ms', String(Date.now() + budgetMs)],
      ['traceparent', traceparent],
      ['reply_partition', String(replyPartition)],
    ]) {
      headers.set(Buffer.from(name as string), Buffer.from(value as string))
    }
    const sent = producer.send({ messages: [{ topic: topics.requests, key: Buffer.from(id), value: body, headers }] }).then(
      () => {},
      (err: unknown) => {
        throw new UpstreamError('unavailable', `producing to Kafka failed: ${(err as Error).message}`, { cause: err })
      },
    )
    return { id, sent }
  }

  // One reply within the upstream budget, however long the broker takes to
  // acknowledge the record: the timer bounds the whole request.
  async function request(op: string, call: PredictCall): Promise<UpstreamAnswer> {
    const { promise, resolve, reject } = Promise.withResolvers<Reply>()
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

  function cancel(id: string): void {
    producer.send({ messages: [{ topic: topics.cancel, key: Buffer.from(id), value: EMPTY }] }).catch((err: unknown) => {
      log.debug({ err, correlation_id: id }, 'producing a cancel record failed')
    })
  }

  // The workers' group is Stable with a member (DescribeGroups), within the
  // upstream budget.
  async function checkGroup(): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('Kafka did not answer in time')), config.upstreamTimeoutMs)
    })
    try {
      const groups = await Promise.race([admin.describeGroups({ groups: [topics.group] }), timeout])
      const group = groups.get(topics.group)
      if (group?.state !== 'Stable' || group.members.size === 0) {
        throw new Error(`the group ${topics.group} has no live ML worker (${group?.state ?? 'unknown'})`)
      }
    } finally {
      clearTimeout(timer)
    }
  }

  return {
    topics,
    get replyPartition() {
      return replyPartition
    },

    // Starts the reader, and waits for its first connection (topics made,
    // reply partition and offset found) for a few tries: a broker not there
    // yet is logged, and the reader keeps trying.
    async start() {
      readLoop = readReplies()
      await started.promise
    },

    exchange: {
      request,
      send,
      unroute: (id) => routes.delete(id),
      answerOf,
      cancel,
    },

    // Resolves to the worker's reply; throws UpstreamError.
    predict(call: PredictCall): Promise<UpstreamAnswer> {
      return request('predict', call)
    },

    // Resolves when a request would be answered: the reader is connected,
    // and the workers' group is Stable with at least one member. The
    // broker is asked at most once a second; callers in between share the
    // last answer.
    ready() {
      if (!connected) return Promise.reject(new Error('Kafka is not connected'))
      const now = Date.now()
      if (!readiness || now - readiness.at >= READY_CACHE_MS) {
        readiness = { at: now, check: checkGroup() }
        readiness.check.catch(() => {}) // each caller sees the failure
      }
      return readiness.check
    },

    async close() {
      stopping.abort()
      for (const route of [...routes.values()]) {
        route.closed(new UpstreamError('unavailable', 'the gateway is shutting down'))
      }
      routes.clear()
      // The fetch in flight ends within FETCH_WAIT_MS; closing the reader
      // first would make it fail, and be logged.
      await Promise.race([readLoop, sleep(FETCH_WAIT_MS + 1000, undefined, { ref: false })])
      const results = await Promise.allSettled([reader.close(true), producer.close(true), admin.close()])
      for (const result of results) {
        if (result.status === 'rejected') log.warn({ err: result.reason as unknown }, 'closing a Kafka client failed')
      }
    },
  }
}

// The replies topic is not there (any more).
function topicGone(err: unknown): boolean {
  const error = err as Error
  return ['UNKNOWN_TOPIC_OR_PARTITION', 'UNKNOWN_TOPIC_ID'].some((id) => findErrorBy(error, 'apiId', id)) ||
    /^Unknown topic /.test(error.message)
}

// CreateTopics of one topic, retention.ms set; a topic that exists is left
// as it is (another process made it first).
async function createTopic(admin: Admin, topic: string, partitions: number, retentionMs: string): Promise<void> {
  try {
    await admin.createTopics({ topics: [topic], partitions, replicas: -1, configs: [{ name: 'retention.ms', value: retentionMs }] })
  } catch (err) {
    if (!findErrorBy(err as Error, 'apiId', 'TOPIC_ALREADY_EXISTS')) throw err
  }
}
