// Shutting down, in two steps. On SIGTERM, server.ts sets `shuttingDown`:
// /readyz answers 503 so that load balancers stop sending, while requests
// are still served (GATEWAY_DRAIN_DELAY_MS). Then the app's close() sets
// `draining`: new work gets 503 with Retry-After, answers close their
// keep-alive connection, and in-flight requests finish. Those still running
// when GATEWAY_SHUTDOWN_TIMEOUT_MS is up are cut (cut()): a stream first
// tells its client why.
import { unavailable } from './problem.ts'

const stopping = () => unavailable('the gateway is shutting down')

export class DrainState {
  shuttingDown = false
  draining = false
  readonly #cuts = new Set<() => void>()

  // Predictions: served until the drain starts.
  assertNotDraining(): void {
    if (this.draining) throw stopping()
  }

  // Readiness: fails from SIGTERM on.
  assertReady(): void {
    if (this.shuttingDown || this.draining) throw stopping()
  }

  // What a long-running answer does when the drain runs out of time;
  // returns the function that forgets it (the answer ended).
  onCut(cut: () => void): () => void {
    this.#cuts.add(cut)
    return () => {
      this.#cuts.delete(cut)
    }
  }

  // The drain ran out of time: ends what is still running.
  cut(): void {
    for (const cut of this.#cuts) cut()
    this.#cuts.clear()
  }
}
