package main

import (
	"github.com/signupguard/signupguard/internal/testenv"
)

// mailDomain is the domain of every address the bench submits. Its MX
// points at a host with a public address, so the service accepts it.
const mailDomain = "bench-mail.org"

// startDNS serves mailDomain's MX and its host's address, and NXDOMAIN for
// every other name.
func startDNS() (*testenv.DNSServer, error) {
	return testenv.StartDNS(
		mailDomain+". 3600 IN MX 10 mx."+mailDomain+".",
		"mx."+mailDomain+". 3600 IN A 93.184.215.14",
	)
}
