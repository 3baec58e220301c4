package config

// authEnv is what the other config tests set for the auth settings to load
// (config_test.go's env): nothing, there are none.
var authEnv map[string]string
