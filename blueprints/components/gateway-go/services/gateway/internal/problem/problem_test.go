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
	}{
		{http.StatusBadRequest, "Bad Request", ""},
		{http.StatusNotFound, "Not Found", ""},
		{http.StatusMethodNotAllowed, "Method Not Allowed", ""},
		{http.StatusRequestEntityTooLarge, "Content Too Large", ""},
		{http.StatusUnsupportedMediaType, "Unsupported Media Type", ""},
		{http.StatusUnprocessableEntity, "Unprocessable Content", ""},
		{http.StatusInternalServerError, "Internal Server Error", ""},
		{http.StatusBadGateway, "Bad Gateway", ""},
		{http.StatusServiceUnavailable, "Service Unavailable", "1"},
		{http.StatusGatewayTimeout, "Gateway Timeout", ""},
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
			want := `{"type":"about:blank","title":"` + tt.title + `","status":` + itoa(tt.status) +
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
