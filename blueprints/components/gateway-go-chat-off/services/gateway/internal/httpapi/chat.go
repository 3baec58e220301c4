package httpapi

// Chat is empty: the gateway has no chat completions API (streaming =
// false), and /v1/chat/completions and /v1/models are unknown paths.
type Chat struct{}

// routeChat registers nothing.
func (s *Server) routeChat() {}
