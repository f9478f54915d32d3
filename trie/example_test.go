package trie_test

import (
	"fmt"

	"github.com/hotpath/hotpath/trie"
)

func Example() {
	b := trie.NewBuilder[string](trie.Options{TrailingSlash: trie.TrailingSlashRedirect})
	for _, rt := range []struct{ host, method, pattern, upstream string }{
		{"", "GET", "/users/:id", "users"},
		{"", "POST", "/users/:id", "users-write"},
		{"", "GET", "/static/*path", "assets"},
		{"*.example.com", "*", "/", "tenants"},
	} {
		if err := b.Add(rt.host, rt.method, rt.pattern, rt.upstream); err != nil {
			fmt.Println(err)
			return
		}
	}
	t, err := b.Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	var m trie.Match[string]
	for _, req := range [][3]string{
		{"gw.local", "GET", "/users/42"},
		{"gw.local", "DELETE", "/users/42"},
		{"gw.local", "GET", "/users/42/"},
		{"gw.local", "GET", "/static/../etc/passwd"},
		{"Shop.Example.com:8443", "PUT", "/"},
	} {
		res := t.Lookup([]byte(req[0]), []byte(req[1]), []byte(req[2]), &m)
		switch res {
		case trie.Found:
			fmt.Printf("%v %s %s id=%q\n", res, m.Value, m.Pattern, m.Params.Get("id"))
		case trie.MethodNotAllowed:
			fmt.Println(res, res.Status(), "Allow:", m.Allow)
		case trie.RedirectSlash:
			fmt.Println(res, res.Status(), "Location:", string(trie.AppendRedirect(nil, []byte(req[2]))))
		default:
			fmt.Println(res, res.Status())
		}
	}
	// Output:
	// Found users /users/:id id="42"
	// MethodNotAllowed 405 Allow: GET, HEAD, POST
	// RedirectSlash 308 Location: /users/42
	// BadPath 400
	// Found tenants / id=""
}
