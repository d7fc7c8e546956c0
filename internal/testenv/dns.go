package testenv

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// DNSMode says how a DNSServer treats queries for a name.
type DNSMode int

const (
	// DNSAnswer answers from the server's records (the default).
	DNSAnswer DNSMode = iota
	// DNSSilent never answers, over UDP or TCP: a dead or firewalled server.
	DNSSilent
	// DNSServFail answers SERVFAIL, as a resolver does when the zone's
	// servers fail.
	DNSServFail
	// DNSRefused answers REFUSED.
	DNSRefused
	// DNSTruncated answers over UDP with the TC bit set and no records, and
	// in full over TCP: a client must retry over TCP to see the records.
	DNSTruncated
	// DNSTruncatedNoTCP answers over UDP with the TC bit set and closes TCP
	// connections unanswered.
	DNSTruncatedNoTCP
)

// maxChase bounds how many CNAMEs the server follows in one answer, so a
// loop in a test zone ends.
const maxChase = 16

// DNSServer is a DNS server on 127.0.0.1, UDP and TCP on one port, that
// answers from a fixed set of records as a recursive resolver would: CNAMEs
// at the asked name are followed within its records and returned as one
// chain, and negative answers carry the SOA of the closest enclosing zone.
// It counts the queries it receives by name and type, so tests can assert
// what a cache saved. It serves through its own handler, never
// dns.DefaultServeMux, so any number run in one process.
type DNSServer struct {
	addr    string
	servers []*dns.Server // UDP and TCP

	mu      sync.Mutex
	records map[dnsKey][]dns.RR
	names   map[string]bool // owner names and their ancestors: the names that exist
	modes   map[string]DNSMode
	chase   bool
	queries map[dnsKey]int
	tcp     map[dnsKey]int
	holds   map[string]*hold
}

// hold keeps queries for one name unanswered until released.
type hold struct {
	arrived  chan struct{} // closed when the first held query arrives
	released chan struct{}
	once     sync.Once
}

type dnsKey struct {
	name  string // lowercase, absolute
	qtype uint16
}

// NewDNS starts a DNSServer holding records, each in zone-file syntax with
// an absolute owner name ("mx.example.com. 300 IN MX 10 mail.example.com."),
// and stops it when t ends. Names without an SOA above them answer
// NXDOMAIN or NODATA without one.
func NewDNS(t testing.TB, records ...string) *DNSServer {
	t.Helper()
	s, err := StartDNS(records...)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// StartDNS is NewDNS outside a test, for tools such as the benchmark:
// Close stops the server.
func StartDNS(records ...string) (*DNSServer, error) {
	s := &DNSServer{
		records: map[dnsKey][]dns.RR{},
		names:   map[string]bool{},
		modes:   map[string]DNSMode{},
		chase:   true,
		queries: map[dnsKey]int{},
		tcp:     map[dnsKey]int{},
		holds:   map[string]*hold{},
	}
	for _, line := range records {
		rr, err := dns.NewRR(line)
		if err != nil || rr == nil {
			return nil, fmt.Errorf("DNS record %q: %v", line, err)
		}
		h := rr.Header()
		h.Name = strings.ToLower(h.Name)
		k := dnsKey{h.Name, h.Rrtype}
		s.records[k] = append(s.records[k], rr)
		for n := h.Name; ; {
			s.names[n] = true
			i, end := dns.NextLabel(n, 0)
			if end {
				break
			}
			n = n[i:]
		}
	}

	pc, ln, err := listenUDPAndTCP()
	if err != nil {
		return nil, err
	}
	handler := dns.HandlerFunc(s.serveDNS)
	s.servers = []*dns.Server{{PacketConn: pc, Handler: handler}, {Listener: ln, Handler: handler}}
	for _, srv := range s.servers {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go srv.ActivateAndServe()
		<-started
	}
	s.addr = pc.LocalAddr().String()
	return s, nil
}

// Close stops the server.
func (s *DNSServer) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, srv := range s.servers {
		srv.ShutdownContext(ctx)
	}
}

// listenUDPAndTCP binds UDP and TCP on one free port of 127.0.0.1, as a
// client that retries a truncated answer over TCP expects. A port free for
// UDP may be taken for TCP, so it tries a few.
func listenUDPAndTCP() (net.PacketConn, net.Listener, error) {
	var err error
	for range 20 {
		var pc net.PacketConn
		pc, err = net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			continue
		}
		var ln net.Listener
		ln, err = net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, ln, nil
		}
		pc.Close()
	}
	return nil, nil, fmt.Errorf("DNS listen: %w", err)
}

// Addr returns the server's host:port, for both UDP and TCP.
func (s *DNSServer) Addr() string { return s.addr }

// SetMode makes the server treat queries for name as m from now on. The
// empty name sets the mode of every name that has none of its own.
func (s *DNSServer) SetMode(name string, m DNSMode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if name != "" {
		name = dns.CanonicalName(name)
	}
	s.modes[name] = m
}

// Hold makes the server keep queries for name unanswered until release is
// called, which happens at the latest when t ends. The returned channel is
// closed when the first such query arrives, so a test can act while a
// client is known to be waiting on the server.
func (s *DNSServer) Hold(t testing.TB, name string) (arrived <-chan struct{}, release func()) {
	h := &hold{arrived: make(chan struct{}), released: make(chan struct{})}
	s.mu.Lock()
	s.holds[dns.CanonicalName(name)] = h
	s.mu.Unlock()
	var once sync.Once
	release = func() {
		once.Do(func() {
			s.mu.Lock()
			delete(s.holds, dns.CanonicalName(name))
			s.mu.Unlock()
			close(h.released)
		})
	}
	t.Cleanup(release)
	return h.arrived, release
}

// SetChaseCNAME sets whether answers follow CNAMEs within the server's
// records (true, the default, as a recursive resolver does) or stop at the
// first CNAME, leaving the client to ask for its target.
func (s *DNSServer) SetChaseCNAME(chase bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chase = chase
}

// Queries returns how many queries for name and qtype (dns.TypeMX, ...)
// arrived so far, over UDP and TCP together.
func (s *DNSServer) Queries(name string, qtype uint16) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queries[dnsKey{dns.CanonicalName(name), qtype}]
}

// TCPQueries returns how many of Queries(name, qtype) arrived over TCP.
func (s *DNSServer) TCPQueries(name string, qtype uint16) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tcp[dnsKey{dns.CanonicalName(name), qtype}]
}

// TotalQueries returns how many queries arrived so far, for any name.
func (s *DNSServer) TotalQueries() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.queries {
		n += c
	}
	return n
}

func (s *DNSServer) serveDNS(w dns.ResponseWriter, req *dns.Msg) {
	if len(req.Question) != 1 {
		m := new(dns.Msg)
		m.SetRcode(req, dns.RcodeFormatError)
		w.WriteMsg(m)
		return
	}
	q := req.Question[0]
	k := dnsKey{dns.CanonicalName(q.Name), q.Qtype}
	isTCP := w.LocalAddr().Network() == "tcp"

	s.mu.Lock()
	s.queries[k]++
	if isTCP {
		s.tcp[k]++
	}
	if h := s.holds[k.name]; h != nil {
		s.mu.Unlock()
		h.once.Do(func() { close(h.arrived) })
		<-h.released
		s.mu.Lock()
	}
	mode, ok := s.modes[k.name]
	if !ok {
		mode = s.modes[""]
	}
	m := new(dns.Msg)
	m.SetReply(req)
	m.RecursionAvailable = true
	switch {
	case mode == DNSSilent:
		s.mu.Unlock()
		return
	case mode == DNSServFail:
		m.Rcode = dns.RcodeServerFailure
	case mode == DNSRefused:
		m.Rcode = dns.RcodeRefused
	case mode == DNSTruncatedNoTCP && isTCP:
		s.mu.Unlock()
		w.Close()
		return
	case (mode == DNSTruncated || mode == DNSTruncatedNoTCP) && !isTCP:
		m.Truncated = true
	default:
		s.answer(m, k)
	}
	s.mu.Unlock()

	if !isTCP {
		size := dns.MinMsgSize
		if opt := req.IsEdns0(); opt != nil {
			size = int(opt.UDPSize())
		}
		m.Truncate(size)
	}
	w.WriteMsg(m)
}

// answer fills m from the records, following CNAMEs when s.chase is set.
// The caller holds s.mu.
func (s *DNSServer) answer(m *dns.Msg, k dnsKey) {
	for range maxChase {
		if rrs := s.records[k]; len(rrs) > 0 {
			m.Answer = append(m.Answer, copyRRs(rrs)...)
			return
		}
		cname := s.records[dnsKey{k.name, dns.TypeCNAME}]
		if len(cname) == 0 || k.qtype == dns.TypeCNAME {
			break
		}
		m.Answer = append(m.Answer, copyRRs(cname[:1])...)
		if !s.chase {
			return
		}
		k.name = dns.CanonicalName(cname[0].(*dns.CNAME).Target)
	}
	if !s.names[k.name] {
		m.Rcode = dns.RcodeNameError
	}
	if soa := s.soaAbove(k.name); soa != nil {
		m.Ns = append(m.Ns, soa)
	}
}

// soaAbove returns the SOA of the closest zone enclosing name, or nil.
func (s *DNSServer) soaAbove(name string) dns.RR {
	for n := name; ; {
		if rrs := s.records[dnsKey{n, dns.TypeSOA}]; len(rrs) > 0 {
			return dns.Copy(rrs[0])
		}
		i, end := dns.NextLabel(n, 0)
		if end {
			return nil
		}
		n = n[i:]
	}
}

// copyRRs copies rrs, because Msg.Truncate and compression may touch the
// records of a message being written.
func copyRRs(rrs []dns.RR) []dns.RR {
	out := make([]dns.RR, len(rrs))
	for i, rr := range rrs {
		out[i] = dns.Copy(rr)
	}
	return out
}
