package config

// Auth is empty: the gateway asks callers for no credential (auth = none).
type Auth struct{}

// loadAuth reads nothing: there is no credential to configure.
func loadAuth(*reader) Auth { return Auth{} }
