// Shutting down, in two steps. On SIGTERM, server.ts sets `shuttingDown`:
// /readyz answers 503 so that load balancers stop sending, while requests
// are still served (GATEWAY_DRAIN_DELAY_MS). Then the app's close() sets
// `draining`: new work gets 503 with Retry-After, answers close their
// keep-alive connection, and in-flight requests finish.
import { unavailable } from './problem.ts'

const stopping = () => unavailable('the gateway is shutting down')

export class DrainState {
  shuttingDown = false
  draining = false

  // Predictions: served until the drain starts.
  assertNotDraining(): void {
    if (this.draining) throw stopping()
  }

  // Readiness: fails from SIGTERM on.
  assertReady(): void {
    if (this.shuttingDown || this.draining) throw stopping()
  }
}
