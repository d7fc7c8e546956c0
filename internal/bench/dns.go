package main

import (
	"fmt"
	"net"
	"strings"

	"github.com/miekg/dns"
)

// mailDomain is the domain of every address the bench submits. Its MX
// points at a host with a public address, so the service accepts it.
const mailDomain = "bench-mail.org"

// startDNS serves mailDomain's MX and its host's address on 127.0.0.1, over
// UDP and TCP on one port, and NXDOMAIN for every other name. It returns
// the address and a function that stops it.
func startDNS() (string, func(), error) {
	mux := dns.NewServeMux()
	mux.HandleFunc(".", func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		m.Authoritative = true
		if len(q.Question) != 1 {
			m.Rcode = dns.RcodeFormatError
			w.WriteMsg(m)
			return
		}
		name := strings.ToLower(q.Question[0].Name)
		hdr := func(t uint16) dns.RR_Header {
			return dns.RR_Header{Name: q.Question[0].Name, Rrtype: t, Class: dns.ClassINET, Ttl: 3600}
		}
		switch {
		case name == mailDomain+".":
			if q.Question[0].Qtype == dns.TypeMX {
				m.Answer = append(m.Answer, &dns.MX{Hdr: hdr(dns.TypeMX), Preference: 10, Mx: "mx." + mailDomain + "."})
			}
		case name == "mx."+mailDomain+".":
			if q.Question[0].Qtype == dns.TypeA {
				m.Answer = append(m.Answer, &dns.A{Hdr: hdr(dns.TypeA), A: net.IPv4(93, 184, 215, 14)})
			}
		default:
			m.Rcode = dns.RcodeNameError
		}
		w.WriteMsg(m)
	})
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	ln, err := net.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		pc.Close()
		return "", nil, fmt.Errorf("dns over tcp on the udp port: %w", err)
	}
	udp := &dns.Server{PacketConn: pc, Handler: mux}
	tcp := &dns.Server{Listener: ln, Handler: mux}
	go udp.ActivateAndServe()
	go tcp.ActivateAndServe()
	return pc.LocalAddr().String(), func() { udp.Shutdown(); tcp.Shutdown() }, nil
}
