// What a transport throws when it cannot produce an upstream answer. The
// predict route turns it into a 502 or 504 problem.
export class UpstreamError extends Error {
  // kind: "timeout" (-> 504), "unavailable", "server_error" or "bad_response"
  // (-> 502), "canceled" (the client went away: nobody gets an answer)
  constructor(kind, message, { cause } = {}) {
    super(message, { cause })
    this.name = 'UpstreamError'
    this.kind = kind
    this.status = kind === 'timeout' ? 504 : 502
  }
}
