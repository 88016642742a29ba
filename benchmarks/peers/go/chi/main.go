// go-chi: /plaintext and /json on go-chi/chi v5 over net/http.
// Usage: go-chi PORT. One OS thread runs Go code (GOMAXPROCS=1).
package main

import (
	"encoding/json"
	"log"
	"net/http"
	"os"
	"runtime"

	// chi v5 (Debian golang-github-go-chi-chi-dev installs the v5 module at
	// this path; in module mode it would be imported as .../chi/v5).
	"github.com/go-chi/chi"
)

type message struct {
	Message string `json:"message"`
}

func main() {
	runtime.GOMAXPROCS(1)
	r := chi.NewRouter()
	r.Get("/plaintext", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte("Hello, World!"))
	})
	r.Get("/json", func(w http.ResponseWriter, r *http.Request) {
		body, err := json.Marshal(message{Message: "Hello, World!"})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	})
	log.Fatal(http.ListenAndServe("127.0.0.1:"+os.Args[1], r))
}
