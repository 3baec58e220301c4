// Command hello-go is the bare Go net/http baseline of the benchmark:
// GET / answers {"status":"ok"}, on 127.0.0.1:$PORT, with nothing else
// (no logging, no metrics), so the gateway's costs can be told from the
// framework's. Standard library only: `go run main.go`.
package main

import (
	"log"
	"net/http"
	"os"
)

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	body := []byte(`{"status":"ok"}`)
	http.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h["Content-Type"] = []string{"application/json"}
		h["Content-Length"] = []string{"15"}
		w.Write(body)
	})
	log.Fatal(http.ListenAndServe("127.0.0.1:"+port, nil))
}
