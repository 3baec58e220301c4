package config

// RateLimit is empty: the gateway limits no caller (rate_limit = 0).
type RateLimit struct{}

// loadRateLimit reads nothing: there is no limit to configure.
func loadRateLimit(*reader) RateLimit { return RateLimit{} }
