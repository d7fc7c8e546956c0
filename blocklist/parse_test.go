package blocklist

import (
	"bufio"
	"bytes"
	"errors"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/signupguard/signupguard/internal/testenv"
)

// TestParseFiles reads every real snapshot and expects the entry counts of
// ../shared/data/SOURCES.md.
func TestParseFiles(t *testing.T) {
	tests := []struct {
		file    string
		entries int
		ipv6    int
		err     error
	}{
		{file: "spamhaus_drop_v4.json", entries: 1670},
		{file: "spamhaus_dropv6_2024-02-27.txt", entries: 51, ipv6: 51},
		{file: "spamhaus_asndrop_2024-02-27.json", err: ErrNoEntries},
		{file: "spamhaus_drop_legacy_2023-10-24.txt", entries: 956},
		{file: "cins_ci-badguys_2023-10-24.txt", entries: 15000},
		{file: "bitwire_inbound_networks.txt", entries: 213288},
		{file: "ipsum.txt", entries: 120430},
		{file: "firehol_level1.netset", entries: 4491},
		{file: "firehol_level2.netset", entries: 17040},
		{file: "firehol_level3.netset", entries: 13892},
		{file: "firehol_spamhaus_drop.netset", entries: 1537},
		{file: "firehol_stopforumspam_180d.ipset", entries: 232265},
		{file: "firehol_stopforumspam_toxic.netset", entries: 56},
		{file: "firehol_blocklist_de.ipset", entries: 22720},
		{file: "firehol_ciarmy.ipset", entries: 15000},
		{file: "firehol_et_compromised.ipset", entries: 525},
		{file: "firehol_dshield.netset", entries: 20},
	}
	dir := filepath.Join(testenv.DataDir(t), "ipblocklists")
	files, err := filepath.Glob(filepath.Join(dir, "*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(tests) {
		t.Errorf("%d files in %s, %d in this table: add the new ones", len(files), dir, len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join(dir, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			res, err := Parse(f)
			if !errors.Is(err, tt.err) {
				t.Fatalf("Parse: err = %v, want %v", err, tt.err)
			}
			if res.Entries != tt.entries || len(res.Prefixes) != tt.entries {
				t.Errorf("Entries = %d, %d prefixes; want %d", res.Entries, len(res.Prefixes), tt.entries)
			}
			if res.Bad != 0 {
				t.Errorf("Bad = %d, examples %v", res.Bad, res.Examples)
			}
			if res.Skipped != res.Lines-res.Entries {
				t.Errorf("Skipped = %d, want Lines-Entries = %d", res.Skipped, res.Lines-res.Entries)
			}
			var v6 int
			for _, p := range res.Prefixes {
				if p != p.Masked() || p.Addr().Is4In6() || p.Addr().Zone() != "" {
					t.Fatalf("prefix %s is not normalised", p)
				}
				if p.Addr().Is6() {
					v6++
				}
			}
			if v6 != tt.ipv6 {
				t.Errorf("%d IPv6 prefixes, want %d", v6, tt.ipv6)
			}
		})
	}
}

func TestParseASNDropSaysWhy(t *testing.T) {
	f, err := os.Open(filepath.Join(testenv.DataDir(t), "ipblocklists", "spamhaus_asndrop_2024-02-27.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := Parse(f)
	if !errors.Is(err, ErrNoEntries) || !strings.Contains(err.Error(), "ASN") {
		t.Fatalf("err = %v, want ErrNoEntries naming ASNs", err)
	}
	if res.Reasons[ReasonASN] != 201 || res.Reasons[ReasonMetadata] != 1 || res.Prefixes != nil {
		t.Errorf("Reasons = %v, %d prefixes; want 201 asn, 1 metadata, none", res.Reasons, len(res.Prefixes))
	}
}

func pfx(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

func TestParseLines(t *testing.T) {
	tests := []struct {
		line   string
		want   []netip.Prefix
		reason string // "" with want == nil: the line must be an entry
	}{
		{line: "192.0.2.1", want: pfx("192.0.2.1/32")},
		{line: "  192.0.2.1  ", want: pfx("192.0.2.1/32")},
		{line: "192.0.2.1\r", want: pfx("192.0.2.1/32")},
		{line: "192.0.2.0/24", want: pfx("192.0.2.0/24")},
		{line: "192.0.2.7/24", want: pfx("192.0.2.0/24")},
		{line: "192.0.2.0/24 ; SBL123", want: pfx("192.0.2.0/24")},
		{line: "192.0.2.0/24;SBL123", want: pfx("192.0.2.0/24")},
		{line: "192.0.2.0/24 # note", want: pfx("192.0.2.0/24")},
		{line: "192.0.2.9\t7", want: pfx("192.0.2.9/32")},
		{line: "2001:db8::1", want: pfx("2001:db8::1/128")},
		{line: "2001:DB8::/32 ", want: pfx("2001:db8::/32")},
		{line: "fe80::1%eth0", want: pfx("fe80::1/128")},
		{line: "fe80::%eth0/64", want: pfx("fe80::/64")},
		{line: "::ffff:5.6.7.8", want: pfx("5.6.7.8/32")},
		{line: "::ffff:5.6.7.0/120", want: pfx("5.6.7.0/24")},
		{line: "192.0.2.0-192.0.2.255", want: pfx("192.0.2.0/24")},
		{line: "192.0.2.1 - 192.0.2.6", want: pfx("192.0.2.1/32", "192.0.2.2/31", "192.0.2.4/31", "192.0.2.6/32")},
		{line: "2001:db8::-2001:db8::1", want: pfx("2001:db8::/127")},
		{line: `{"cidr":"1.10.16.0/20","sblid":"SBL256894","rir":"apnic"}`, want: pfx("1.10.16.0/20")},
		{line: `{"cidr":"2a12:2640::/29","sblid":"SBL1","rir":"ripencc"}`, want: pfx("2a12:2640::/29")},
		{line: "", reason: ReasonBlank},
		{line: "   ", reason: ReasonBlank},
		{line: "# a comment", reason: ReasonComment},
		{line: "; Spamhaus DROP List", reason: ReasonComment},
		{line: `{"type":"metadata","timestamp":1,"records":1670,"copyright":"(c) 2026 The Spamhaus Project SLU"}`, reason: ReasonMetadata},
		{line: `{"asn":932,"rir":"arin","domain":"xn.net"}`, reason: ReasonASN},
		{line: `{"cidr":"nope"}`, reason: ReasonAddress},
		{line: `{"cidr":`, reason: ReasonJSON},
		{line: `{"sblid":"SBL1"}`, reason: ReasonJSON},
		{line: "not an address", reason: ReasonTrailing},
		{line: "example.com", reason: ReasonAddress},
		{line: "<html>", reason: ReasonAddress},
		{line: "300.1.2.3", reason: ReasonAddress},
		{line: "010.1.2.3", reason: ReasonAddress},
		{line: "192.0.2.0/33", reason: ReasonAddress},
		{line: "192.0.2.1 extra", reason: ReasonTrailing},
		{line: "192.0.2.1\t-1", reason: ReasonTrailing},
		{line: "192.0.2.9-192.0.2.1", reason: ReasonRange},
		{line: "192.0.2.1-2001:db8::1", reason: ReasonRange},
		{line: "192.0.2.1-", reason: ReasonAddress},
		{line: "0.0.0.0/0", reason: ReasonAll},
		{line: "::/0", reason: ReasonAll},
		{line: "0.0.0.0-255.255.255.255", reason: ReasonAll},
		{line: strings.Repeat("1", maxLine+1), reason: ReasonTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			res := Result{Reasons: map[string]int{}}
			res.Lines = 1
			line, tooLong, err := readLine(bufioReader(tt.line + "\n"))
			if err != nil {
				t.Fatal(err)
			}
			if tooLong {
				res.bad(nil, ReasonTooLong)
			} else {
				res.add(line)
			}
			if tt.want != nil {
				if res.Entries != 1 || !slices.Equal(res.Prefixes, tt.want) {
					t.Errorf("got entries=%d %v, reasons %v; want %v", res.Entries, res.Prefixes, res.Reasons, tt.want)
				}
				return
			}
			if res.Entries != 0 || res.Reasons[tt.reason] != 1 {
				t.Errorf("got entries=%d %v, reasons %v; want skipped as %q", res.Entries, res.Prefixes, res.Reasons, tt.reason)
			}
		})
	}
}

func TestParseRefuses(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	random := make([]byte, 64<<10)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	good := strings.Repeat("192.0.2.1\n", 18)
	tests := []struct {
		name string
		body string
		want error
	}{
		{"empty", "", ErrNoEntries},
		{"comments only", "# nothing\n; here\n\n", ErrNoEntries},
		{"html error page", "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n<body>\n<h1>Bad Gateway</h1>\n</body></html>\n", ErrTooManyBad},
		{"html page quoting an address", "<html>\n<body>\nYour address is\n203.0.113.9\n</body>\n</html>\n", ErrTooManyBad},
		{"random bytes", string(random), ErrTooManyBad},
		{"one long line", strings.Repeat("a", 200<<10), ErrTooManyBad},
		{"3 bad in 21", good + "x\ny\nz\n", ErrTooManyBad},
		{"asn list", `{"asn":1}` + "\n", ErrNoEntries},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Parse(strings.NewReader(tt.body))
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if res.Prefixes != nil {
				t.Errorf("a refused source returned %d prefixes", len(res.Prefixes))
			}
		})
	}
}

func TestParseToleratesFewBadLines(t *testing.T) {
	body := "\ufeff" + strings.Repeat("192.0.2.1\n", 18) + "bogus\n2001:db8::1" // a BOM, one bad line in 20, no final newline
	res, err := Parse(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if res.Entries != 19 || res.Bad != 1 || res.Lines != 20 || len(res.Examples) != 1 || res.Examples[0].Line != 19 {
		t.Errorf("got %+v", res)
	}
}

func TestParseReadError(t *testing.T) {
	_, err := Parse(failingReader{})
	if !errors.Is(err, errBroken) {
		t.Fatalf("err = %v, want the reader's error wrapped", err)
	}
}

func bufioReader(s string) *bufio.Reader { return bufio.NewReader(strings.NewReader(s)) }

var errBroken = errors.New("broken pipe")

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errBroken }

func TestRangePrefixes(t *testing.T) {
	tests := []struct {
		first, last string
		want        []netip.Prefix
		ok          bool
	}{
		{"10.0.0.0", "10.0.0.0", pfx("10.0.0.0/32"), true},
		{"10.0.0.0", "10.0.0.255", pfx("10.0.0.0/24"), true},
		{"10.0.0.255", "10.0.1.0", pfx("10.0.0.255/32", "10.0.1.0/32"), true},
		{"0.0.0.0", "255.255.255.255", pfx("0.0.0.0/0"), true},
		{"255.255.255.254", "255.255.255.255", pfx("255.255.255.254/31"), true},
		{"::", "::3", pfx("::/126"), true},
		{"::ffff:1.2.3.4", "1.2.3.5", pfx("1.2.3.4/31"), true},
		{"10.0.0.2", "10.0.0.1", nil, false},
		{"10.0.0.1", "::1", nil, false},
	}
	for _, tt := range tests {
		got, ok := RangePrefixes(netip.MustParseAddr(tt.first), netip.MustParseAddr(tt.last))
		if ok != tt.ok || !slices.Equal(got, tt.want) {
			t.Errorf("RangePrefixes(%s, %s) = %v, %v; want %v, %v", tt.first, tt.last, got, ok, tt.want, tt.ok)
		}
	}
}

// FuzzParse feeds arbitrary bodies: Parse must not panic, must either
// refuse or return normalised prefixes, and must keep its counts straight.
func FuzzParse(f *testing.F) {
	f.Add([]byte("192.0.2.0/24 ; SBL1\n# c\n2001:db8::/32\n"))
	f.Add([]byte(`{"cidr":"1.10.16.0/20","sblid":"SBL256894","rir":"apnic"}` + "\n" + `{"type":"metadata"}`))
	f.Add([]byte("1.2.3.4\t9\n1.2.3.0-1.2.3.9\n"))
	f.Add([]byte("<html>\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		res, err := Parse(bytes.NewReader(body))
		if res.Skipped != res.Lines-res.Entries || res.Bad > res.Skipped {
			t.Fatalf("counts inconsistent: %+v", res)
		}
		if err != nil {
			if res.Prefixes != nil {
				t.Fatal("refused source returned prefixes")
			}
			return
		}
		if res.Entries == 0 || len(res.Prefixes) < res.Entries {
			t.Fatalf("accepted with %d entries, %d prefixes", res.Entries, len(res.Prefixes))
		}
		for _, p := range res.Prefixes {
			if !p.IsValid() || p != p.Masked() || p.Addr().Is4In6() || p.Addr().Zone() != "" || p.Bits() == 0 {
				t.Fatalf("prefix %s is not normalised", p)
			}
		}
	})
}

// FuzzParseLine checks one line of text or JSON: an entry's prefixes are
// normalised, and a single address or CIDR line round-trips.
func FuzzParseLine(f *testing.F) {
	for _, s := range []string{"192.0.2.1", "192.0.2.0/24 ; SBL1", "fe80::1%eth0", "::ffff:5.6.7.0/120", "1.2.3.4\t3",
		`{"cidr":"1.2.3.0/24"}`, `{"asn":1}`, "1.2.3.4 - 1.2.3.9", "::/0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		var ps []netip.Prefix
		var reason string
		if strings.HasPrefix(line, "{") {
			ps, reason = parseJSONLine(line)
		} else {
			ps, reason = parseTextLine(line)
		}
		if (reason == "") == (len(ps) == 0) {
			t.Fatalf("%q: prefixes %v with reason %q", line, ps, reason)
		}
		for _, p := range ps {
			if p != Normalize(p) || p.Bits() == 0 {
				t.Fatalf("%q: prefix %s is not normalised", line, p)
			}
		}
		if p, err := netip.ParsePrefix(line); err == nil && Normalize(p).Bits() > 0 {
			if want := Normalize(p); reason != "" || len(ps) != 1 || ps[0] != want {
				t.Fatalf("%q: got %v %q, want %s", line, ps, reason, want)
			}
		}
	})
}

// FuzzRangePrefixes checks that the prefixes of a range are ordered,
// adjacent, and cover exactly first through last.
func FuzzRangePrefixes(f *testing.F) {
	f.Add([]byte{10, 0, 0, 1}, []byte{10, 0, 0, 200})
	f.Add(bytes.Repeat([]byte{0}, 16), bytes.Repeat([]byte{0xff}, 16))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		first, ok1 := netip.AddrFromSlice(a)
		last, ok2 := netip.AddrFromSlice(b)
		if !ok1 || !ok2 {
			return
		}
		ps, ok := RangePrefixes(first, last)
		first, last = first.Unmap(), last.Unmap()
		if !ok {
			if first.BitLen() == last.BitLen() && !last.Less(first) {
				t.Fatalf("refused %s-%s", first, last)
			}
			return
		}
		if len(ps) == 0 || ps[0].Addr() != first || lastAddr(ps[len(ps)-1]) != last || len(ps) > 2*first.BitLen() {
			t.Fatalf("%s-%s: %v", first, last, ps)
		}
		for i := 1; i < len(ps); i++ {
			if lastAddr(ps[i-1]).Next() != ps[i].Addr() || ps[i] != ps[i].Masked() {
				t.Fatalf("%s-%s: gap or overlap at %v", first, last, ps[i-1:i+1])
			}
		}
	})
}
