package config

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

// authEnv is what the other config tests set for the auth settings to load
// (config_test.go's env): nothing, no key at all is a valid setting.
var authEnv map[string]string

func TestLoadAPIKeys(t *testing.T) {
	alice, bob := sha256.Sum256([]byte("alice-key")), sha256.Sum256([]byte("bob-key"))
	a, b := hex.EncodeToString(alice[:]), hex.EncodeToString(bob[:])
	tests := []struct {
		value string
		want  []APIKey
	}{
		{"", nil},
		{"alice:" + a, []APIKey{{"alice", alice}}},
		{"alice:" + a + ",bob.2_x-y:" + b, []APIKey{{"alice", alice}, {"bob.2_x-y", bob}}},
		{"alice:" + a + ",", []APIKey{{"alice", alice}}}, // a trailing comma
	}
	for _, tt := range tests {
		cfg, err := Load(env(map[string]string{"GATEWAY_API_KEYS": tt.value}))
		if err != nil {
			t.Errorf("%q: %v", tt.value, err)
			continue
		}
		if len(cfg.Auth.APIKeys) != len(tt.want) {
			t.Errorf("%q: %d keys, want %d", tt.value, len(cfg.Auth.APIKeys), len(tt.want))
			continue
		}
		for i, k := range cfg.Auth.APIKeys {
			if k != tt.want[i] {
				t.Errorf("%q: key %d = %+v, want %+v", tt.value, i, k, tt.want[i])
			}
		}
	}
}

func TestLoadInvalidAPIKeys(t *testing.T) {
	h := strings.Repeat("ab", 32)
	tests := []struct{ value, want string }{
		{"alice", `GATEWAY_API_KEYS="entry 1 (alice)": the hash must be`},
		{"alice:" + h[:62], `"entry 1 (alice)": the hash must be`},
		{"alice:" + strings.ToUpper(h), `"entry 1 (alice)": the hash must be`},
		{"alice:" + h[:63] + "g", `"entry 1 (alice)": the hash must be`},
		{":" + h, `"entry 1": each entry must be name:sha256hex`},
		{"al ice:" + h, `"entry 1": each entry must be name:sha256hex`},
		{strings.Repeat("a", 65) + ":" + h, `"entry 1": each entry must be name:sha256hex`},
		{"alice:" + h + ",alice:" + h, `"entry 2 (alice)": each name may appear once`},
	}
	for _, tt := range tests {
		_, err := Load(env(map[string]string{"GATEWAY_API_KEYS": tt.value}))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want it to contain %q", tt.value, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), h[:16]) {
			t.Errorf("%q: the error shows the hash: %v", tt.value, err)
		}
	}
}
