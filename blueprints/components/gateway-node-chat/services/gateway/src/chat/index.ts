// Token streaming (streaming = true): the chat completions API's settings,
// and what an app may be given instead of the transport's chat side.
// config.ts and gateway-app.ts import this fixed interface;
// gateway-node-chat-off places it with nothing behind it.
import type { Env } from '../env.ts'
import type { CreateChatUpstream } from '../upstream/chat.ts'

export interface ChatConfig {
  // From the request to the first event; past it, a 504 problem.
  readonly firstTokenTimeoutMs: number
  // The longest wait between two events once streaming began; past it, the
  // upstream_timeout event. Also bounds a write the client does not read.
  readonly tokenGapTimeoutMs: number
  // The most events waiting per stream for a client that reads too slowly.
  readonly streamBufferEvents: number
}

export function loadChatConfig(env: Env): ChatConfig {
  return {
    firstTokenTimeoutMs: env.millis('GATEWAY_FIRST_TOKEN_TIMEOUT_MS', 10000),
    tokenGapTimeoutMs: env.millis('GATEWAY_TOKEN_GAP_TIMEOUT_MS', 10000),
    streamBufferEvents: env.integer('GATEWAY_STREAM_BUFFER_EVENTS', 256, 1, 65536),
  }
}

// AppOptions.chat: the tests give the chat API a fake transport.
export interface ChatOptions {
  // Default: src/upstream/chat-index.ts, the transport's chat side.
  createChatUpstream?: CreateChatUpstream
}
