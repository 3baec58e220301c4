// The gateway's upstream: Redis Streams to the ML workers (./streams.js).
// app.js builds it with createUpstream(config, { log, onDroppedReply }); its
// settings are read by ./config.js.
export { createStreamsUpstream as createUpstream } from './streams.js'
