// Package blocklist reads public IP blocklists and answers, without locks,
// whether an address is on one of them. It imports no package of
// signupguard: storage and HTTP reach it through its own types.
package blocklist

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Errors Parse wraps when it refuses a whole source.
var (
	// ErrNoEntries: the source names no IP address at all (an empty file,
	// only comments, or an ASN list such as Spamhaus ASN-DROP).
	ErrNoEntries = errors.New("no IP entries")
	// ErrTooManyBad: more than a tenth of the data lines are not addresses.
	// A list served as an HTML error page, or in a format we do not read,
	// is refused as a whole rather than loaded in part.
	ErrTooManyBad = errors.New("too many unparseable lines")
)

// Reasons a line yields no entry, as counted in Result.Reasons.
const (
	ReasonBlank    = "blank"
	ReasonComment  = "comment"
	ReasonMetadata = "metadata" // Spamhaus JSON {"type":"metadata",...}
	ReasonASN      = "asn"      // an ASN entry: no address to match
	ReasonTooLong  = "too long" // over maxLine bytes
	ReasonJSON     = "bad json" // a { line that is not JSON with a cidr
	ReasonAddress  = "bad address"
	ReasonRange    = "bad range" // ends mixed families, or end before start
	ReasonTrailing = "trailing text"
	ReasonAll      = "covers every address" // /0: surely a mistake
)

// maxLine is the longest line read. The longest real entry (Spamhaus JSON
// with an IPv6 CIDR) is under 100 bytes; a longer line is not an entry.
const maxLine = 1024

// maxBadExamples is how many bad lines Result keeps for error messages.
const maxBadExamples = 3

// Result is what Parse read from one source.
type Result struct {
	// Prefixes are the entries in the order read: masked, IPv4-mapped
	// addresses unmapped, zones dropped. A single address is a /32 or /128.
	// Duplicates are kept; the Set removes them.
	Prefixes []netip.Prefix
	Lines    int            // every line read
	Entries  int            // lines that named addresses (a range line is one entry)
	Skipped  int            // lines that named none: Lines - Entries
	Bad      int            // skipped lines that were not comments, blanks, metadata or ASNs
	Reasons  map[string]int // why lines were skipped, by Reason*
	Examples []BadLine      // the first few bad lines
}

// BadLine is a line Parse could not read, for operators.
type BadLine struct {
	Line   int    // 1-based
	Text   string // shortened to 60 bytes, invalid UTF-8 replaced
	Reason string
}

func (b BadLine) String() string { return fmt.Sprintf("line %d (%s): %q", b.Line, b.Reason, b.Text) }

// Parse reads a blocklist, detecting the format of each line: plain IPv4 and
// IPv6 addresses and CIDRs, "A-B" ranges, Spamhaus DROP text ("CIDR ;
// SBLnnn") and JSON lines, ipsum's "IP<TAB>count", and "#" or ";" comments.
//
// Parse refuses the whole source, wrapping ErrNoEntries or ErrTooManyBad,
// when it names no address or when more than a tenth of its data lines are
// bad. On error the Result keeps its counts but no Prefixes, so that nothing
// loads half a list. An error reading r is returned wrapped.
func Parse(r io.Reader) (Result, error) {
	res := Result{Reasons: map[string]int{}}
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, tooLong, err := readLine(br)
		if err == io.EOF {
			break
		}
		if err != nil {
			return res.refused(), fmt.Errorf("read line %d: %w", res.Lines+1, err)
		}
		res.Lines++
		if tooLong {
			res.bad(nil, ReasonTooLong)
			continue
		}
		res.add(line)
	}
	res.Skipped = res.Lines - res.Entries
	if err := res.check(); err != nil {
		return res.refused(), err
	}
	return res, nil
}

// readLine returns the next line without its end, or io.EOF after the last.
// A line over maxLine is consumed and reported by tooLong, not returned.
func readLine(br *bufio.Reader) (line []byte, tooLong bool, err error) {
	line, err = br.ReadSlice('\n')
	for err == bufio.ErrBufferFull {
		tooLong = true
		_, err = br.ReadSlice('\n')
	}
	switch {
	case err == io.EOF && len(line) == 0 && !tooLong:
		return nil, false, io.EOF
	case err != nil && err != io.EOF:
		return nil, false, err
	}
	line = bytes.TrimSuffix(line, []byte("\n"))
	return line, tooLong || len(line) > maxLine, nil
}

// add classifies one line and appends what it names.
func (res *Result) add(raw []byte) {
	if res.Lines == 1 {
		raw = bytes.TrimPrefix(raw, []byte("\ufeff")) // a byte-order mark
	}
	line := strings.TrimSpace(string(raw))
	var ps []netip.Prefix
	var reason string
	switch {
	case line == "":
		reason = ReasonBlank
	case line[0] == '#' || line[0] == ';':
		reason = ReasonComment
	case line[0] == '{':
		ps, reason = parseJSONLine(line)
	default:
		ps, reason = parseTextLine(line)
	}
	switch reason {
	case "":
		res.Entries++
		res.Prefixes = append(res.Prefixes, ps...)
	case ReasonBlank, ReasonComment, ReasonMetadata, ReasonASN:
		res.Reasons[reason]++
	default:
		res.bad(raw, reason)
	}
}

func (res *Result) bad(raw []byte, reason string) {
	res.Reasons[reason]++
	res.Bad++
	if len(res.Examples) < maxBadExamples {
		text := string(raw)
		if len(text) > 60 {
			text = text[:60]
		}
		res.Examples = append(res.Examples, BadLine{Line: res.Lines, Text: strings.ToValidUTF8(text, string(utf8.RuneError)), Reason: reason})
	}
}

// check refuses a source that names nothing or is mostly unreadable.
func (res *Result) check() error {
	data := res.Entries + res.Bad
	switch {
	case res.Bad > 0 && res.Bad*10 > data:
		return fmt.Errorf("%w: %d of %d data lines are not addresses, first %s", ErrTooManyBad, res.Bad, data, res.Examples[0])
	case res.Entries == 0 && res.Reasons[ReasonASN] > 0:
		return fmt.Errorf("%w: %d lines name ASNs, which hold no addresses to match (an ASN list such as Spamhaus ASN-DROP is not an IP source)", ErrNoEntries, res.Reasons[ReasonASN])
	case res.Entries == 0:
		return fmt.Errorf("%w in %d lines", ErrNoEntries, res.Lines)
	}
	return nil
}

func (res Result) refused() Result {
	res.Prefixes = nil
	res.Skipped = res.Lines - res.Entries
	return res
}

// spamhausJSON is one line of Spamhaus's DROP or ASN-DROP JSON.
type spamhausJSON struct {
	CIDR string          `json:"cidr"`
	Type string          `json:"type"`
	ASN  json.RawMessage `json:"asn"`
}

// parseJSONLine reads a Spamhaus JSON line: an entry with "cidr", an ASN
// entry, or the metadata line that ends the file.
func parseJSONLine(line string) ([]netip.Prefix, string) {
	var v spamhausJSON
	if err := json.Unmarshal([]byte(line), &v); err != nil {
		return nil, ReasonJSON
	}
	switch {
	case v.CIDR != "":
		p, reason := parsePrefix(v.CIDR)
		if reason != "" {
			return nil, reason
		}
		return []netip.Prefix{p}, ""
	case v.Type == "metadata":
		return nil, ReasonMetadata
	case len(v.ASN) > 0:
		return nil, ReasonASN
	}
	return nil, ReasonJSON
}

// parseTextLine reads an address, CIDR or range, with an optional trailing
// comment ("; SBL123", "# note") or ipsum count ("1.2.3.4\t7").
func parseTextLine(line string) ([]netip.Prefix, string) {
	if i := strings.IndexAny(line, "#;"); i >= 0 {
		line = line[:i]
	}
	fields := strings.Fields(line)
	switch {
	case len(fields) == 3 && fields[1] == "-":
		return parseRange(fields[0], fields[2])
	case len(fields) == 2 && isCount(fields[1]):
	case len(fields) != 1:
		return nil, ReasonTrailing
	}
	if a, b, ok := strings.Cut(fields[0], "-"); ok {
		return parseRange(a, b)
	}
	p, reason := parsePrefix(fields[0])
	if reason != "" {
		return nil, reason
	}
	return []netip.Prefix{p}, ""
}

// isCount reports whether s is ipsum's second column: a decimal count.
func isCount(s string) bool {
	_, err := strconv.ParseUint(s, 10, 32)
	return err == nil
}

// parsePrefix reads a CIDR or a single address and normalises it.
func parsePrefix(s string) (netip.Prefix, string) {
	if !strings.Contains(s, "/") {
		a, ok := parseAddr(s)
		if !ok {
			return netip.Prefix{}, ReasonAddress
		}
		return netip.PrefixFrom(a, a.BitLen()), ""
	}
	if i := strings.IndexByte(s, '%'); i >= 0 {
		if j := strings.IndexByte(s, '/'); j > i {
			s = s[:i] + s[j:] // netip.ParsePrefix refuses zones
		}
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, ReasonAddress
	}
	p = Normalize(p)
	if p.Bits() == 0 {
		return netip.Prefix{}, ReasonAll
	}
	return p, ""
}

// Normalize returns p masked, with an IPv4-mapped IPv6 prefix
// (::ffff:a.b.c.d/n, n >= 96) turned into the IPv4 prefix it means.
// cidranger accepts a mapped prefix but never matches an IPv4 address
// against it.
func Normalize(p netip.Prefix) netip.Prefix {
	a := p.Addr().WithZone("")
	if a.Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(a.Unmap(), p.Bits()-96).Masked()
	}
	return netip.PrefixFrom(a, p.Bits()).Masked()
}

// parseAddr reads an address, dropping a zone and unmapping IPv4-mapped IPv6.
func parseAddr(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}

// parseRange turns "first-last" into the fewest CIDRs that cover it.
func parseRange(first, last string) ([]netip.Prefix, string) {
	a, okA := parseAddr(strings.TrimSpace(first))
	b, okB := parseAddr(strings.TrimSpace(last))
	if !okA || !okB {
		return nil, ReasonAddress
	}
	ps, ok := RangePrefixes(a, b)
	if !ok {
		return nil, ReasonRange
	}
	if len(ps) == 1 && ps[0].Bits() == 0 {
		return nil, ReasonAll
	}
	return ps, ""
}

// RangePrefixes returns the fewest prefixes covering exactly first through
// last, in order, or false when the two differ in family or last < first.
func RangePrefixes(first, last netip.Addr) ([]netip.Prefix, bool) {
	first, last = first.Unmap().WithZone(""), last.Unmap().WithZone("")
	if !first.IsValid() || first.BitLen() != last.BitLen() || last.Less(first) {
		return nil, false
	}
	var out []netip.Prefix
	for {
		// The largest block that starts at first and ends by last.
		p := netip.PrefixFrom(first, first.BitLen())
		for bits := 0; bits < first.BitLen(); bits++ {
			q := netip.PrefixFrom(first, bits).Masked()
			if q.Addr() == first && !last.Less(lastAddr(q)) {
				p = q
				break
			}
		}
		out = append(out, p)
		end := lastAddr(p)
		if end == last {
			return out, true
		}
		first = end.Next()
	}
}

// lastAddr returns the highest address in p.
func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As16()
	off := 0
	if p.Addr().Is4() {
		off = 12
	}
	for i := p.Bits(); i < p.Addr().BitLen(); i++ {
		a[off+i/8] |= 0x80 >> (i % 8)
	}
	out := netip.AddrFrom16(a)
	if p.Addr().Is4() {
		out = out.Unmap()
	}
	return out
}
