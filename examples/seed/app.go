// The seed's program: the article built href-counter (which fetched a web page with
// golang.org/x/net/html); this offline stand-in keeps the same shape and just says hello.
package main

import (
	"fmt"
	"os"
	"runtime"
)

func main() {
	name := os.Getenv("NAME")
	if name == "" {
		name = "multi-stage builds"
	}
	fmt.Printf("hello from %s (built with %s)\n", name, runtime.Version())
}
