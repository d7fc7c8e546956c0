package service

import (
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// Address is a parsed, normalised e-mail address. The zero Address is invalid.
type Address struct {
	// Local is the local part as typed (RFC 5321 says it may be case-sensitive).
	Local string
	// Domain is lowercased, in IDNA A-label (ASCII) form, without a trailing dot.
	Domain string
	// Key identifies the mailbox for deduplication: lowercased, with the
	// documented mailbox rules of a closed list of providers applied.
	Key string
}

// String returns the address as it is stored and answered: Local@Domain.
func (a Address) String() string { return a.Local + "@" + a.Domain }

// RFC 5321 §4.5.3.1 limits, in octets.
const (
	maxLocal   = 64
	maxAddress = 254
	maxDomain  = 253
	maxLabel   = 63
	// maxInput bounds the work done on input before any other check.
	maxInput = 1024
)

// lookupProfile is strict: idna.ToASCII mis-encodes upper-case and fullwidth
// input, and idna.Lookup lets empty and over-long labels through.
var lookupProfile = idna.New(
	idna.MapForLookup(),
	idna.Transitional(false),
	idna.VerifyDNSLength(true),
	idna.BidiRule(),
	idna.StrictDomainName(true),
)

// DomainToASCII returns domain in lowercase IDNA A-label form under the
// strict lookup profile, so every part of signupguard folds a name (upper
// case, fullwidth, U-labels) to the same ASCII form.
func DomainToASCII(domain string) (string, error) {
	return lookupProfile.ToASCII(domain)
}

// specialUse are the special-use and private-use names of RFC 6761, RFC 7686
// (onion), RFC 8375 (home.arpa) and ICANN's .internal: no public mailbox can
// live under them. A domain is refused when it is one of these or below one.
var specialUse = []string{
	"localhost", "local", "test", "invalid", "onion", "example",
	"internal", "alt", "home.arpa",
}

var errEmpty = errors.New("empty address")

// ParseAddress parses s as an address a newsletter can be sent to and
// normalises it. Surrounding white space is trimmed; everything else that is
// unusual is refused rather than repaired: quoted local parts, IP literals,
// control, zero-width and bidi characters, non-ASCII local parts (few mail
// hosts accept RFC 6531 mail), dotless and special-use domains.
// Errors are *Error with CodeInvalidEmail.
func ParseAddress(s string) (Address, error) {
	a, err := parseAddress(s)
	if err != nil {
		return Address{}, &Error{Code: CodeInvalidEmail, Message: "Please enter a valid e-mail address.", Err: err}
	}
	return a, nil
}

func parseAddress(s string) (Address, error) {
	if len(s) > maxInput {
		return Address{}, errors.New("input too long")
	}
	if !utf8.ValidString(s) {
		return Address{}, errors.New("invalid UTF-8")
	}
	s = strings.TrimFunc(s, unicode.IsSpace)
	if s == "" {
		return Address{}, errEmpty
	}
	for _, r := range s {
		// Cf holds the zero-width and bidi controls; Cc holds CR, LF, NUL.
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || unicode.IsSpace(r) {
			return Address{}, errors.New("control, format or space character")
		}
	}
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return Address{}, errors.New("no @")
	}
	local, domain := s[:at], s[at+1:]
	if err := checkLocal(local); err != nil {
		return Address{}, err
	}
	domain, err := normaliseDomain(domain)
	if err != nil {
		return Address{}, err
	}
	a := Address{Local: local, Domain: domain}
	if len(a.String()) > maxAddress {
		return Address{}, errors.New("address longer than 254 octets")
	}
	a.Key, err = dedupeKey(local, domain)
	if err != nil {
		return Address{}, err
	}
	return a, nil
}

// checkLocal enforces RFC 5322 dot-atom syntax on an ASCII local part.
func checkLocal(local string) error {
	switch {
	case local == "":
		return errors.New("empty local part")
	case len(local) > maxLocal:
		return errors.New("local part longer than 64 octets")
	case strings.HasPrefix(local, `"`):
		return errors.New("quoted local part")
	case local[0] == '.' || local[len(local)-1] == '.' || strings.Contains(local, ".."):
		return errors.New("leading, trailing or doubled dot in local part")
	}
	for i := 0; i < len(local); i++ {
		if !isAtext(local[i]) && local[i] != '.' {
			return errors.New("character not allowed in local part")
		}
	}
	return nil
}

// isAtext reports whether c is an RFC 5322 atext character.
func isAtext(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// normaliseDomain returns domain in lowercase A-label form, or an error when
// it cannot be a public mail domain.
func normaliseDomain(domain string) (string, error) {
	if strings.HasPrefix(domain, "[") {
		return "", errors.New("IP literal")
	}
	// A trailing dot survives lowercasing and IDNA and would split the key.
	domain = strings.TrimSuffix(domain, ".")
	ascii, err := DomainToASCII(domain)
	if err != nil {
		return "", err
	}
	if len(ascii) > maxDomain {
		return "", errors.New("domain longer than 253 octets")
	}
	labels := strings.Split(ascii, ".")
	if len(labels) < 2 {
		return "", errors.New("dotless domain")
	}
	for _, l := range labels {
		if err := CheckLabel(l); err != nil {
			return "", err
		}
	}
	if isNumeric(labels[len(labels)-1]) {
		return "", errors.New("numeric top-level label")
	}
	for _, name := range specialUse {
		if ascii == name || strings.HasSuffix(ascii, "."+name) {
			return "", errors.New("special-use domain")
		}
	}
	return ascii, nil
}

// CheckLabel enforces the LDH rule on one lowercase A-label of a domain
// name: 1 to 63 letters, digits and hyphens, no hyphen at either end.
func CheckLabel(l string) error {
	if l == "" || len(l) > maxLabel {
		return errors.New("empty or over-long label")
	}
	if l[0] == '-' || l[len(l)-1] == '-' {
		return errors.New("label starts or ends with a hyphen")
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return errors.New("label is not letters, digits and hyphens")
		}
	}
	return nil
}

func isNumeric(s string) bool {
	return strings.Trim(s, "0123456789") == ""
}

// A provider's mailbox rule: which domain its mailboxes live under and which
// variations it documents as reaching the same mailbox.
type provider struct {
	canonical  string
	ignoreDots bool // Gmail: "dots don't matter"
	plusTag    bool // "name+anything" is delivered to "name"
}

// providers is a closed list, each rule taken from the provider's own help
// pages. Only documented rules are applied; everything else is only
// lowercased, since guessing would merge different people's mailboxes.
var providers = map[string]provider{
	"gmail.com":      {canonical: "gmail.com", ignoreDots: true, plusTag: true},
	"googlemail.com": {canonical: "gmail.com", ignoreDots: true, plusTag: true},
	"outlook.com":    {canonical: "outlook.com", plusTag: true},
	"hotmail.com":    {canonical: "hotmail.com", plusTag: true},
	"live.com":       {canonical: "live.com", plusTag: true},
	"fastmail.com":   {canonical: "fastmail.com", plusTag: true},
	"proton.me":      {canonical: "proton.me", plusTag: true},
	"protonmail.com": {canonical: "protonmail.com", plusTag: true},
	"pm.me":          {canonical: "pm.me", plusTag: true},
}

// dedupeKey returns the key that identifies the mailbox local@domain.
func dedupeKey(local, domain string) (string, error) {
	local = strings.ToLower(local)
	if p, ok := providers[domain]; ok {
		domain = p.canonical
		if p.plusTag {
			if i := strings.IndexByte(local, '+'); i >= 0 {
				local = local[:i]
			}
		}
		if p.ignoreDots {
			local = strings.ReplaceAll(local, ".", "")
		}
	}
	if local == "" {
		return "", errors.New("no mailbox left once the provider's rules are applied")
	}
	return local + "@" + domain, nil
}
