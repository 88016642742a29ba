// go-nethttp: /plaintext and /json on the standard library's net/http.
// Usage: go-nethttp PORT. One OS thread runs Go code (GOMAXPROCS=1).
package main

import (
	"encoding/json"
	"log"
	"net/http"
	"os"
	"runtime"
)

type message struct {
	Message string `json:"message"`
}

func main() {
	runtime.GOMAXPROCS(1)
	mux := http.NewServeMux()
	mux.HandleFunc("/plaintext", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte("Hello, World!"))
	})
	mux.HandleFunc("/json", func(w http.ResponseWriter, r *http.Request) {
		body, err := json.Marshal(message{Message: "Hello, World!"})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	})
	log.Fatal(http.ListenAndServe("127.0.0.1:"+os.Args[1], mux))
}
