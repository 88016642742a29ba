// go-gin: /plaintext and /json on gin-gonic/gin (release mode, no logger).
// Usage: go-gin PORT. One OS thread runs Go code (GOMAXPROCS=1).
package main

import (
	"log"
	"net/http"
	"os"
	"runtime"

	"github.com/gin-gonic/gin"
)

type message struct {
	Message string `json:"message"`
}

func main() {
	runtime.GOMAXPROCS(1)
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.GET("/plaintext", func(c *gin.Context) {
		c.Data(http.StatusOK, "text/plain", []byte("Hello, World!"))
	})
	r.GET("/json", func(c *gin.Context) {
		c.JSON(http.StatusOK, message{Message: "Hello, World!"})
	})
	log.Fatal(r.Run("127.0.0.1:" + os.Args[1]))
}
