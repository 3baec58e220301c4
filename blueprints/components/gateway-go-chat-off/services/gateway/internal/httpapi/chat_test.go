package httpapi

import "testing"

// Without the chat API its paths are unknown: 404, not 405.
func TestNoChatRoutes(t *testing.T) {
	s := newServer(&fakeUpstream{reply: okReply})
	for _, tt := range []struct{ method, target, contentType, body string }{
		{"POST", "/v1/chat/completions", "application/json", `{"model":"m","messages":[{"role":"user","content":"hi"}]}`},
		{"GET", "/v1/chat/completions", "", ""},
		{"GET", "/v1/models", "", ""},
	} {
		if w := do(s, tt.method, tt.target, tt.contentType, tt.body); w.Code != 404 {
			t.Errorf("%s %s = %d, want 404", tt.method, tt.target, w.Code)
		}
	}
}
