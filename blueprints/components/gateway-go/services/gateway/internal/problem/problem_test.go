package problem

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestWrite(t *testing.T) {
	tests := []struct {
		status     int
		title      string
		retryAfter string
		typ        string
	}{
		{http.StatusBadRequest, "Bad Request", "", "about:blank"},
		{http.StatusNotFound, "Not Found", "", "about:blank"},
		{http.StatusMethodNotAllowed, "Method Not Allowed", "", "about:blank"},
		{http.StatusRequestEntityTooLarge, "Content Too Large", "", "about:blank"},
		{http.StatusUnsupportedMediaType, "Unsupported Media Type", "", "about:blank"},
		{http.StatusUnprocessableEntity, "Unprocessable Content", "", "about:blank"},
		// The caller sets Retry-After: it knows when the quota comes back.
		{http.StatusTooManyRequests, "Too Many Requests", "", QuotaExceeded},
		{http.StatusInternalServerError, "Internal Server Error", "", "about:blank"},
		{http.StatusBadGateway, "Bad Gateway", "", "about:blank"},
		{http.StatusServiceUnavailable, "Service Unavailable", "1", "about:blank"},
		{http.StatusGatewayTimeout, "Gateway Timeout", "", "about:blank"},
	}
	for _, tt := range tests {
		t.Run(tt.title, func(t *testing.T) {
			rec := httptest.NewRecorder()
			Write(rec, New(tt.status, "it <broke> & more", "/v1/predict", "abc"))

			if rec.Code != tt.status {
				t.Errorf("status = %d, want %d", rec.Code, tt.status)
			}
			if got := rec.Header().Get("Content-Type"); got != ContentType {
				t.Errorf("Content-Type = %q, want %q", got, ContentType)
			}
			if got := rec.Header().Get("Retry-After"); got != tt.retryAfter {
				t.Errorf("Retry-After = %q, want %q", got, tt.retryAfter)
			}
			want := `{"type":"` + tt.typ + `","title":"` + tt.title + `","status":` + itoa(tt.status) +
				`,"detail":"it <broke> & more","instance":"/v1/predict","request_id":"abc"}`
			if got := rec.Body.String(); got != want {
				t.Errorf("body =\n%s\nwant\n%s", got, want)
			}
		})
	}
}

func itoa(n int) string {
	b, _ := Marshal(n)
	return string(b)
}
