// The body of POST /v1/chat/completions, checked as the contract's table
// says (docs/ml-gateway-contract.md, "Chat completions"): every failure is
// a 422 naming the field. Fields the gateway does not know are left for the
// ML service; the bytes go upstream unchanged.
import { HttpProblem } from '../problem.ts'

export interface ChatRequest {
  // The body's "stream" is true: the answer is an event stream.
  stream: boolean
}

const ROLES = ['system', 'developer', 'user', 'assistant', 'tool']
// An integer as the contract means it: a JSON number without fraction or
// exponent (1.0 and 1e3 are not).
const INTEGER = /^-?(?:0|[1-9]\d*)$/
const INT64_MIN = -(2n ** 63n)
const INT64_MAX = 2n ** 63n - 1n

type Json = Record<string, unknown>

// JSON.parse with source text access (Node.js 21+): a reviver sees each
// primitive's text as the client wrote it. Numbers lose that text once
// parsed (1.0 === 1, and a seed past 2^53 is rounded), so it is kept for
// the members of every object, by object.
type Reviver = (this: unknown, key: string, value: unknown, context?: { source?: string }) => unknown

function parseWithSources(text: string): { value: unknown; sources: WeakMap<object, Map<string, string>> } {
  const sources = new WeakMap<object, Map<string, string>>()
  const reviver: Reviver = function (key, value, context) {
    if (typeof value === 'number' && typeof this === 'object' && this !== null && context?.source !== undefined) {
      const members = sources.get(this) ?? new Map<string, string>()
      members.set(key, context.source)
      sources.set(this, members)
    }
    return value
  }
  return { value: JSON.parse(text, reviver) as unknown, sources }
}

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value)

function invalid(detail: string): HttpProblem {
  return new HttpProblem(422, `body${detail}`)
}

function isTextPart(part: unknown): boolean {
  return isObject(part) && part.type === 'text' && typeof part.text === 'string'
}

function checkMessages(messages: unknown): void {
  if (!Array.isArray(messages) || messages.length === 0) throw invalid('.messages must be a non-empty array')
  messages.forEach((message: unknown, i) => {
    if (!isObject(message)) throw invalid(`.messages[${i}] must be an object`)
    if (typeof message.role !== 'string' || !ROLES.includes(message.role)) {
      throw invalid(`.messages[${i}].role must be one of ${ROLES.join(', ')}`)
    }
    const { content } = message
    const valid = typeof content === 'string' || (Array.isArray(content) && content.length > 0 && content.every(isTextPart))
    if (!valid) throw invalid(`.messages[${i}].content must be a string or a non-empty array of {"type":"text","text":...} parts`)
  })
}

// Absent and null both mean "the default".
const given = (body: Json, key: string): boolean => body[key] !== undefined && body[key] !== null

// The body, valid, or a 422 problem. The bytes are valid JSON: the
// framework parsed them first (400 otherwise).
export function parseChatRequest(bytes: Buffer): ChatRequest {
  const { value: body, sources } = parseWithSources(bytes.toString('utf8'))
  if (!isObject(body)) throw invalid(' must be a JSON object')
  const source = (key: string): string => sources.get(body)?.get(key) ?? ''

  if (typeof body.model !== 'string' || body.model === '') throw invalid('.model must be a non-empty string')
  checkMessages(body.messages)
  for (const key of ['max_completion_tokens', 'max_tokens']) {
    if (given(body, key) && !(INTEGER.test(source(key)) && Number(body[key]) >= 1)) {
      throw invalid(`.${key} must be an integer of at least 1`)
    }
  }
  if (given(body, 'temperature')) {
    const { temperature } = body
    if (typeof temperature !== 'number' || temperature < 0 || temperature > 2) throw invalid('.temperature must be a number from 0 to 2')
  }
  if (given(body, 'seed')) {
    const text = source('seed')
    if (!INTEGER.test(text) || BigInt(text) < INT64_MIN || BigInt(text) > INT64_MAX) {
      throw invalid('.seed must be an integer from -2^63 to 2^63-1')
    }
  }
  if (given(body, 'stream') && typeof body.stream !== 'boolean') throw invalid('.stream must be a boolean')
  return { stream: body.stream === true }
}
