// No chat completions API (streaming = false): the plugin app.ts registers
// adds no route (gateway-node-fastify-chat places the one with the routes).
import type { FastifyPluginAsync } from 'fastify'
import type { ChatOptions } from '../chat/index.ts'
import type { Config } from '../config.ts'

interface ChatRoutesOptions {
  config: Config
  options: ChatOptions | undefined
}

const chatRoutes: FastifyPluginAsync<ChatRoutesOptions> = async () => {}

export default chatRoutes
