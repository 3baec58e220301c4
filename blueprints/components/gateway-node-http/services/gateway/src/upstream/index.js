// The gateway's upstream: the ML service over HTTP (./http.js). app.js builds
// it with createUpstream(config, { log, onDroppedReply }); its settings are
// read by ./config.js.
export { createHttpUpstream as createUpstream } from './http.js'
