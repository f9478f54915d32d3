package cors_test

import (
	"bytes"
	"fmt"
	"time"

	"github.com/hotpath/hotpath/cors"
)

func Example() {
	p, err := cors.New(cors.Options{
		AllowOrigins:     []string{"https://app.example.com", "https://*.example.net"},
		AllowMethods:     []string{"GET", "PUT"},
		AllowHeaders:     []string{"Content-Type"},
		AllowCredentials: true,
		MaxAge:           time.Hour,
	})
	if err != nil {
		panic(err)
	}
	// A preflight: 204 with these fields, or 403.
	fields, res := p.AppendPreflight(nil, []byte("https://x.example.net"), []byte("PUT"), []byte("content-type"))
	fmt.Printf("%v\n%s", res == cors.Allowed, bytes.ReplaceAll(fields, []byte("\r\n"), []byte("\n")))
	// Any other response of the route.
	fields = p.AppendActual(nil, []byte("https://app.example.com"))
	fmt.Printf("%s", bytes.ReplaceAll(fields, []byte("\r\n"), []byte("\n")))
	// Output:
	// true
	// Access-Control-Allow-Origin: https://x.example.net
	// Access-Control-Allow-Credentials: true
	// Access-Control-Allow-Methods: GET, PUT
	// Access-Control-Allow-Headers: content-type
	// Access-Control-Max-Age: 3600
	// Vary: Origin, Access-Control-Request-Method, Access-Control-Request-Headers
	// Access-Control-Allow-Origin: https://app.example.com
	// Access-Control-Allow-Credentials: true
	// Vary: Origin
}
