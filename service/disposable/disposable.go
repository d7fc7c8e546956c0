// Package disposable recognises domains of disposable-mail providers. It
// implements service.DomainChecker with a public CC0 list embedded in the
// binary (see README.md for its origin), to which an operator can add
// domains and from which they can exempt some.
package disposable

import (
	"bufio"
	"bytes"
	_ "embed"
	"fmt"
	"io"
	"strings"

	"github.com/signupguard/signupguard/service"
)

//go:embed disposable_email_blocklist.conf
var embedded []byte

var _ service.DomainChecker = (*List)(nil)

// List is a set of disposable domains and of exemptions. It is read-only
// after New, so it is safe for concurrent use.
type List struct {
	listed map[string]bool
	exempt map[string]bool
}

// maxLine bounds one line of a list: a domain is at most 253 octets.
const maxLine = 1024

// New returns the embedded list, with the operator's list extra (nil for
// none) applied on top: plain lines add domains, lines "!domain" exempt
// them. A bad line in extra is an error naming it.
func New(extra io.Reader) (*List, error) {
	l := &List{listed: make(map[string]bool, 9000), exempt: map[string]bool{}}
	if err := l.read(bytes.NewReader(embedded), false); err != nil {
		return nil, fmt.Errorf("embedded disposable list: %w", err)
	}
	if extra != nil {
		if err := l.read(extra, true); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// read adds the domains of r. Only the operator's file may exempt.
func (l *List) read(r io.Reader, mayExempt bool) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, maxLine), maxLine)
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		dst := l.listed
		if name, ok := strings.CutPrefix(line, "!"); ok && mayExempt {
			dst, line = l.exempt, strings.TrimSpace(name)
		}
		d, err := normalise(line)
		if err != nil {
			return fmt.Errorf("line %d: %q is not a domain: %w", n, line, err)
		}
		dst[d] = true
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read disposable list: %w", err)
	}
	return nil
}

// normalise folds domain as package service folds the domains of the
// addresses checked against the list.
func normalise(domain string) (string, error) {
	d, err := service.DomainToASCII(strings.TrimSuffix(domain, "."))
	if err != nil {
		return "", err
	}
	if !strings.Contains(d, ".") {
		return "", fmt.Errorf("no dot in it")
	}
	return d, nil
}

// IsDisposable reports whether domain, or a parent of it, is listed,
// ignoring case and one trailing dot. The most specific name decides: an
// exempted name is not disposable even when a parent is listed.
func (l *List) IsDisposable(domain string) bool {
	d := strings.ToLower(strings.TrimSuffix(domain, "."))
	for d != "" {
		if l.exempt[d] {
			return false
		}
		if l.listed[d] {
			return true
		}
		_, parent, ok := strings.Cut(d, ".")
		if !ok {
			break
		}
		d = parent
	}
	return false
}

// Len returns the number of listed domains, exemptions not counted.
func (l *List) Len() int { return len(l.listed) }
