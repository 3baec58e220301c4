package config

import (
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
)

// Auth holds the API keys the gateway accepts.
type Auth struct {
	APIKeys []APIKey // GATEWAY_API_KEYS
}

// APIKey is a key the gateway accepts: its name, the caller's identity,
// and the SHA-256 of the key. The key itself is never stored.
type APIKey struct {
	Name string
	Hash [32]byte
}

var keyName = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// loadAuth reads GATEWAY_API_KEYS: name:sha256hex pairs, comma-separated
// (`make api-key NAME=...` adds one). Unset, no key is accepted. An error
// shows the entry's position and name, never its hash.
func loadAuth(r *reader) Auth {
	const name = "GATEWAY_API_KEYS"
	var auth Auth
	seen := map[string]bool{}
	for i, entry := range strings.Split(r.getenv(name), ",") {
		if entry == "" {
			continue
		}
		label, digest, _ := strings.Cut(entry, ":")
		var key APIKey
		n, err := hex.Decode(key.Hash[:], []byte(digest))
		switch {
		case !keyName.MatchString(label):
			r.fail(name, fmt.Sprintf("entry %d", i+1), "each entry must be name:sha256hex, the name 1 to 64 letters, digits, '.', '_' or '-'")
			continue
		case err != nil || n != len(key.Hash) || len(digest) != 2*len(key.Hash) || strings.ToLower(digest) != digest:
			r.fail(name, fmt.Sprintf("entry %d (%s)", i+1, label), "the hash must be 64 lowercase hex digits (the SHA-256 of the key)")
			continue
		case seen[label]:
			r.fail(name, fmt.Sprintf("entry %d (%s)", i+1, label), "each name may appear once")
			continue
		}
		seen[label] = true
		key.Name = label
		auth.APIKeys = append(auth.APIKeys, key)
	}
	return auth
}
