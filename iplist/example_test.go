package iplist_test

import (
	"fmt"
	"net/netip"

	"github.com/hotpath/hotpath/iplist"
)

func Example() {
	var ps []netip.Prefix
	for _, e := range []string{"10.0.0.0/8", "192.0.2.7", "2001:db8::/32"} {
		p, err := iplist.ParsePrefix(e)
		if err != nil {
			panic(err)
		}
		ps = append(ps, p)
	}
	deny := iplist.New(ps)
	for _, a := range []string{"10.1.2.3", "::ffff:192.0.2.7", "192.0.2.8", "2001:db8::42"} {
		fmt.Println(a, deny.Contains(netip.MustParseAddr(a)))
	}
	// Output:
	// 10.1.2.3 true
	// ::ffff:192.0.2.7 true
	// 192.0.2.8 false
	// 2001:db8::42 true
}
