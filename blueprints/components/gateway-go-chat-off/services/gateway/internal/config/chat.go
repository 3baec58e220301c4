package config

// Chat is empty: the gateway has no chat completions API (streaming = false).
type Chat struct{}

// loadChat reads nothing: there is no chat API to configure.
func loadChat(*reader) Chat { return Chat{} }
