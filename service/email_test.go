package service_test

import (
	"strings"
	"testing"

	"github.com/signupguard/signupguard/service"
)

func TestParseAddress(t *testing.T) {
	long := func(n int) string { return strings.Repeat("a", n) }
	tests := []struct {
		in    string
		email string // "" means the address is refused
		key   string
	}{
		// Accepted, with the stored form and the dedupe key.
		{in: "a@gmail.com", email: "a@gmail.com", key: "a@gmail.com"},
		{in: "  Jane.Doe@Example.ORG \t", email: "Jane.Doe@example.org", key: "jane.doe@example.org"},
		{in: "Jane.Doe+news@GoogleMail.com", email: "Jane.Doe+news@googlemail.com", key: "janedoe@gmail.com"},
		{in: "j.a.n.e@gmail.com", email: "j.a.n.e@gmail.com", key: "jane@gmail.com"},
		{in: "jane+a+b@outlook.com", email: "jane+a+b@outlook.com", key: "jane@outlook.com"},
		{in: "jane.doe+x@hotmail.com", email: "jane.doe+x@hotmail.com", key: "jane.doe@hotmail.com"},
		{in: "jane+x@fastmail.com", email: "jane+x@fastmail.com", key: "jane@fastmail.com"},
		{in: "jane+x@proton.me", email: "jane+x@proton.me", key: "jane@proton.me"},
		{in: "jane+x@yahoo.com", email: "jane+x@yahoo.com", key: "jane+x@yahoo.com"}, // not in the closed list
		{in: "j.ane@yahoo.com", email: "j.ane@yahoo.com", key: "j.ane@yahoo.com"},
		{in: "jane@bücher.de", email: "jane@xn--bcher-kva.de", key: "jane@xn--bcher-kva.de"},
		{in: "jane@BÜCHER.de", email: "jane@xn--bcher-kva.de", key: "jane@xn--bcher-kva.de"},
		{in: "jane@ｂüｃｈｅｒ．ｄｅ", email: "jane@xn--bcher-kva.de", key: "jane@xn--bcher-kva.de"},
		{in: "jane@xn--bcher-kva.de", email: "jane@xn--bcher-kva.de", key: "jane@xn--bcher-kva.de"},
		{in: "jane@example.com.", email: "jane@example.com", key: "jane@example.com"},
		{in: "o'brien@example.com", email: "o'brien@example.com", key: "o'brien@example.com"},
		{in: "a!#$%&'*+-/=?^_`{|}~z@example.com", email: "a!#$%&'*+-/=?^_`{|}~z@example.com", key: "a!#$%&'*+-/=?^_`{|}~z@example.com"},
		{in: "x@a-b.co.uk", email: "x@a-b.co.uk", key: "x@a-b.co.uk"},
		{in: "x@1example.com", email: "x@1example.com", key: "x@1example.com"},
		{in: long(64) + "@example.com", email: long(64) + "@example.com", key: long(64) + "@example.com"},
		{in: "x@" + long(63) + ".com", email: "x@" + long(63) + ".com", key: "x@" + long(63) + ".com"},
		{in: "x@東京.jp", email: "x@xn--1lqs71d.jp", key: "x@xn--1lqs71d.jp"},

		// Refused.
		{in: ""},
		{in: "   "},
		{in: "plainaddress"},
		{in: "@example.com"},
		{in: "jane@"},
		{in: "jane@@example.com"},
		{in: "ja@ne@example.com"},
		{in: "jane doe@example.com"},
		{in: "jane@exa mple.com"},
		{in: "jane\r\n@example.com"},
		{in: "jane@example.com\nBcc: x@example.org"},
		{in: "jane\x00@example.com"},
		{in: "jane\u200b@example.com"},  // zero-width space
		{in: "jane@exam\u200dple.com"},  // zero-width joiner
		{in: "jane\u202e@example.com"},  // bidi override
		{in: "jane@\u2066example.com"},  // bidi isolate
		{in: "\ufeffjane@example.com"},  // BOM
		{in: `"jane doe"@example.com`},  // quoted local part
		{in: `"jane"@example.com`},      // quoted local part
		{in: "jane@[192.0.2.1]"},        // IP literal
		{in: "jane@[IPv6:2001:db8::1]"}, // IP literal
		{in: "jane@192.0.2.1"},          // numeric TLD
		{in: ".jane@example.com"},       // leading dot
		{in: "jane.@example.com"},       // trailing dot
		{in: "ja..ne@example.com"},      // doubled dot
		{in: "jane@example..com"},       // empty label
		{in: "jane@.example.com"},       // empty label
		{in: "jane@-example.com"},       // leading hyphen
		{in: "jane@example-.com"},       // trailing hyphen
		{in: "jane@exa_mple.com"},       // not LDH
		{in: "jane@localhost"},          // dotless and special-use
		{in: "jane@com"},                // dotless
		{in: "jane@mail.localhost"},     // special-use
		{in: "jane@printer.local"},      // special-use
		{in: "jane@foo.test"},           // special-use
		{in: "jane@foo.invalid"},        // special-use
		{in: "jane@duckduckgogg42xjoc72x3sjasowoarfbgcmvfimaftt6twagswzczad.onion"},
		{in: "jane@foo.example"},                                       // special-use
		{in: "jane@corp.internal"},                                     // private-use
		{in: "jane@router.home.arpa"},                                  // private-use
		{in: "jäne@example.com"},                                       // non-ASCII local part
		{in: "jane@xn--zz.com"},                                        // malformed punycode
		{in: "jane@xn--.com"},                                          // malformed punycode
		{in: long(65) + "@example.com"},                                // local part over 64
		{in: "x@" + long(64) + ".com"},                                 // label over 63
		{in: long(64) + "@" + strings.Repeat(long(60)+".", 4) + "com"}, // over 254
		{in: "+news@gmail.com"},                                        // empty mailbox once +tag dropped
		{in: "jane@example.com\xff"},                                   // invalid UTF-8
		{in: "jane(comment)@example.com"},
		{in: "jane@example.com>"},
		{in: "<jane@example.com>"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			a, err := service.ParseAddress(tt.in)
			if tt.email == "" {
				if err == nil {
					t.Fatalf("ParseAddress(%q) = %q, want an error", tt.in, a)
				}
				if code := service.ErrorCode(err); code != service.CodeInvalidEmail {
					t.Fatalf("ParseAddress(%q) error code = %q, want %q", tt.in, code, service.CodeInvalidEmail)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseAddress(%q): %v", tt.in, err)
			}
			if a.String() != tt.email || a.Key != tt.key {
				t.Fatalf("ParseAddress(%q) = %q key %q, want %q key %q", tt.in, a, a.Key, tt.email, tt.key)
			}
		})
	}
}

// FuzzParseAddress checks that any input either fails cleanly or yields an
// address that is stable: parsing what we store gives the same address and
// key, so a stored row can always be parsed again.
func FuzzParseAddress(f *testing.F) {
	for _, s := range []string{"a@gmail.com", "Jane.Doe+x@GoogleMail.com", "jane@bücher.de", "x@xn--bcher-kva.de", `"q"@example.com`, "a@[1.2.3.4]", "a@b", "a@example.com.", "j\u200bx@example.com"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := service.ParseAddress(s)
		if err != nil {
			if service.ErrorCode(err) != service.CodeInvalidEmail {
				t.Fatalf("ParseAddress(%q): error without invalid_email code: %v", s, err)
			}
			return
		}
		if len(a.String()) > 254 || len(a.Local) > 64 {
			t.Fatalf("ParseAddress(%q) = %q: over RFC 5321 limits", s, a)
		}
		again, err := service.ParseAddress(a.String())
		if err != nil {
			t.Fatalf("ParseAddress(%q) = %q, which does not parse again: %v", s, a, err)
		}
		if again != a {
			t.Fatalf("ParseAddress(%q) = %+v, but parsing that gives %+v", s, a, again)
		}
	})
}
