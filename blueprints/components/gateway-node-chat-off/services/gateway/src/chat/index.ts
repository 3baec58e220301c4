// No token streaming (streaming = false): no chat completions API, nothing
// to configure. config.ts and gateway-app.ts import this fixed interface
// (gateway-node-chat places the one with the API behind it).
import type { Env } from '../env.ts'

export interface ChatConfig {
  readonly chat: 'off'
}

export function loadChatConfig(_env: Env): ChatConfig {
  return { chat: 'off' }
}

// AppOptions.chat: nothing to give.
export type ChatOptions = Record<string, never>
