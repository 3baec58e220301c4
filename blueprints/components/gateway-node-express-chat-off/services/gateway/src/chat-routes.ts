// No chat completions API (streaming = false): the router app.ts mounts has
// no route (gateway-node-express-chat places the one with the routes).
import { Router } from 'express'
import type { ChatOptions } from './chat/index.ts'
import type { Config } from './config.ts'
import type { DrainState } from './drain.ts'
import type { GatewayMetrics } from './metrics.ts'
import type { Predictor } from './predict.ts'
import type { Upstream } from './upstream/upstream.ts'

// What app.ts gives the chat routes, whether there are any or not.
export interface ChatRoutesDeps {
  config: Config
  options: ChatOptions | undefined
  upstream: Upstream
  predictor: Predictor
  metrics: GatewayMetrics
  drain: DrainState
}

export function chatRoutes(_deps: ChatRoutesDeps): Router {
  return Router()
}
