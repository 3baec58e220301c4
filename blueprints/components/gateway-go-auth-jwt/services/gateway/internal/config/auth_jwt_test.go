package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// authEnv is what the other config tests set for the auth settings to load
// (config_test.go's env): the three settings without a default.
var authEnv = map[string]string{
	"GATEWAY_JWKS_URL":     "https://idp.example.com/.well-known/jwks.json",
	"GATEWAY_JWT_ISSUER":   "https://idp.example.com/",
	"GATEWAY_JWT_AUDIENCE": "https://api.example.com",
}

func TestLoadJWTDefaults(t *testing.T) {
	cfg, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := Auth{
		JWKSURL:    "https://idp.example.com/.well-known/jwks.json",
		Issuer:     "https://idp.example.com/",
		Audience:   "https://api.example.com",
		Algorithms: []string{"RS256", "ES256"},
		ClockSkew:  30 * time.Second,
	}
	if !reflect.DeepEqual(cfg.Auth, want) {
		t.Errorf("Auth = %+v, want %+v", cfg.Auth, want)
	}
}

func TestLoadJWTValues(t *testing.T) {
	cfg, err := Load(env(map[string]string{
		"GATEWAY_JWKS_URL":         "https://login.example.com/tenant/discovery/v2.0/keys?p=b2c_1_signin",
		"GATEWAY_JWT_ISSUER":       "urn:example:issuer",
		"GATEWAY_JWT_AUDIENCE":     "api://5f3c0a7e",
		"GATEWAY_JWT_ALGORITHMS":   "EdDSA, PS256,EdDSA",
		"GATEWAY_JWT_CLOCK_SKEW_S": "0",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := Auth{
		JWKSURL:    "https://login.example.com/tenant/discovery/v2.0/keys?p=b2c_1_signin",
		Issuer:     "urn:example:issuer",
		Audience:   "api://5f3c0a7e",
		Algorithms: []string{"EdDSA", "PS256"},
	}
	if !reflect.DeepEqual(cfg.Auth, want) {
		t.Errorf("Auth = %+v, want %+v", cfg.Auth, want)
	}
}

// Plain http only reaches a provider on this machine (development, tests).
func TestLoadJWKSURLOnLoopbackOverHTTP(t *testing.T) {
	for _, u := range []string{"http://localhost:8180/realms/dev/protocol/openid-connect/certs", "http://127.0.0.1:9000/jwks.json", "http://[::1]:9000/jwks.json", "http://LOCALHOST/jwks"} {
		cfg, err := Load(env(map[string]string{"GATEWAY_JWKS_URL": u}))
		if err != nil || cfg.Auth.JWKSURL != u {
			t.Errorf("%s: %q, %v", u, cfg.Auth.JWKSURL, err)
		}
	}
}

func TestLoadInvalidJWTSettings(t *testing.T) {
	tests := []struct{ name, value, want string }{
		{"GATEWAY_JWKS_URL", "", "required"},
		{"GATEWAY_JWT_ISSUER", "", "required"},
		{"GATEWAY_JWT_AUDIENCE", "", "required"},
		{"GATEWAY_JWKS_URL", "http://idp.example.com/jwks.json", "http:// only on localhost"},
		{"GATEWAY_JWKS_URL", "http://10.0.0.7/jwks.json", "http:// only on localhost"},
		{"GATEWAY_JWKS_URL", "http://localhost.example.com/jwks.json", "http:// only on localhost"},
		{"GATEWAY_JWKS_URL", "ftp://idp.example.com/jwks.json", "https://"},
		{"GATEWAY_JWKS_URL", "idp.example.com/jwks.json", "https://"},
		{"GATEWAY_JWKS_URL", "https://user:s3cr3t@idp.example.com/jwks.json", "https://"},
		{"GATEWAY_JWKS_URL", "https://idp.example.com/jwks.json#keys", "https://"},
		{"GATEWAY_JWKS_URL", "https:///jwks.json", "https://"},
		{"GATEWAY_JWT_ISSUER", "https://idp.example.com/ x", "spaces"},
		{"GATEWAY_JWT_AUDIENCE", " api", "spaces"},
		{"GATEWAY_JWT_ALGORITHMS", "none", "never none or HS*"},
		{"GATEWAY_JWT_ALGORITHMS", "RS256,HS256", "never none or HS*"},
		{"GATEWAY_JWT_ALGORITHMS", "rs256", "RS256, RS384"},
		{"GATEWAY_JWT_ALGORITHMS", "RS256,", "RS256, RS384"},
		{"GATEWAY_JWT_CLOCK_SKEW_S", "301", "from 0 to 300"},
		{"GATEWAY_JWT_CLOCK_SKEW_S", "-1", "from 0 to 300"},
		{"GATEWAY_JWT_CLOCK_SKEW_S", "30s", "from 0 to 300"},
	}
	for _, tt := range tests {
		_, err := Load(env(map[string]string{tt.name: tt.value}))
		if err == nil || !strings.Contains(err.Error(), tt.name+"=") || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s=%q: error %v, want it to name the variable and say %q", tt.name, tt.value, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("%s=%q: the error shows the password: %v", tt.name, tt.value, err)
		}
	}
}

// Every missing setting is named at once, not one per start.
func TestLoadJWTNamesEveryMissingSetting(t *testing.T) {
	_, err := Load(env(map[string]string{"GATEWAY_JWKS_URL": "", "GATEWAY_JWT_ISSUER": "", "GATEWAY_JWT_AUDIENCE": ""}))
	for _, name := range []string{"GATEWAY_JWKS_URL", "GATEWAY_JWT_ISSUER", "GATEWAY_JWT_AUDIENCE"} {
		if err == nil || !strings.Contains(err.Error(), name+`="": required`) {
			t.Errorf("error %v does not name %s", err, name)
		}
	}
}
