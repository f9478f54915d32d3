package config

import (
	"errors"
	"fmt"

	"github.com/hotpath/hotpath/trie"
)

// Label is the route's name in metrics, logs and ${route}: its name, or
// its path when it has none.
func (r *Route) Label() string {
	if r.Name != "" {
		return r.Name
	}
	return r.Path
}

// TableMethods returns the methods the route is registered for in the
// routing table: Methods, or GET and HEAD for an aggregate route without
// them (others get 405), or "*" (any).
func (r *Route) TableMethods() []string {
	switch {
	case len(r.Methods) > 0:
		return r.Methods
	case r.Aggregate != nil:
		return []string{"GET", "HEAD"}
	}
	return []string{"*"}
}

// TrieOptions are the routing table's options from router:.
func (c *Config) TrieOptions() trie.Options {
	var o trie.Options
	switch c.Router.TrailingSlash {
	case "redirect":
		o.TrailingSlash = trie.TrailingSlashRedirect
	case "ignore":
		o.TrailingSlash = trie.TrailingSlashIgnore
	}
	return o
}

// validateRouteTable reports routes that share a label (metrics, logs and
// ${route} could not tell them apart) and routes the routing table
// refuses: duplicates, conflicting parameter names, malformed patterns and
// hosts. It adds them to the table as the engine does, so that a config
// with field errors and conflicts gets every problem in one pass. failed
// holds the routes whose path, host or methods already have an error;
// they are left out of the table.
func (c *Config) validateRouteTable(failed map[int]bool, bad reporter) {
	named := map[string]int{}   // explicit names
	unnamed := map[string]int{} // paths of routes without a name: their labels
	for i := range c.Routes {
		r := &c.Routes[i]
		if r.Name == "" {
			if _, ok := unnamed[r.Path]; !ok {
				unnamed[r.Path] = i
			}
			continue
		}
		if j, dup := named[r.Name]; dup {
			bad(fmt.Sprintf("routes[%d].name", i), "duplicate route name %q (also routes[%d]): it labels metrics and logs", r.Name, j)
			continue
		}
		named[r.Name] = i
	}
	for i := range c.Routes {
		r := &c.Routes[i]
		if j, ok := unnamed[r.Name]; ok && r.Name != "" {
			bad(fmt.Sprintf("routes[%d].name", i), "route name %q is also the label of routes[%d] (its path; routes without a name are labelled by their path)", r.Name, j)
		}
	}

	b := trie.NewBuilder[int](c.TrieOptions())
	for i := range c.Routes {
		if failed[i] {
			continue
		}
		r := &c.Routes[i]
		for _, m := range r.TableMethods() {
			err := b.Add(r.Host, m, r.Path, i)
			if err == nil {
				continue
			}
			field := ".path"
			switch {
			case errors.Is(err, trie.ErrBadHost):
				field = ".host"
			case errors.Is(err, trie.ErrBadMethod):
				field = ".methods"
			}
			bad(fmt.Sprintf("routes[%d]%s", i, field), "%v", err)
			break // one error per route: its other methods would repeat it
		}
	}
}
