package api

import "testing"

// The honeypot is read from the configured field, in both body types, and
// the default name stops being special once another is configured.
func TestDecodeSignupHoneypot(t *testing.T) {
	const js, form = "application/json", "application/x-www-form-urlencoded"
	tests := []struct {
		name, mt, body, field string
		want                  string // the honeypot value read
		bad                   bool
	}{
		{name: "DefaultJSON", mt: js, body: `{"email":"a@b.org","website":"x"}`, want: "x"},
		{name: "DefaultForm", mt: form, body: "email=a%40b.org&website=x", want: "x"},
		{name: "ConfiguredJSON", mt: js, field: "homepage", body: `{"email":"a@b.org","homepage":"x"}`, want: "x"},
		{name: "ConfiguredForm", mt: form, field: "homepage", body: "email=a%40b.org&homepage=x", want: "x"},
		{name: "OldNameIgnoredJSON", mt: js, field: "homepage", body: `{"email":"a@b.org","website":"x"}`},
		{name: "OldNameIgnoredForm", mt: form, field: "homepage", body: "email=a%40b.org&website=x"},
		{name: "CaseMatters", mt: js, field: "homepage", body: `{"email":"a@b.org","HOMEPAGE":"x"}`},
		{name: "TwiceJSON", mt: js, field: "homepage", body: `{"email":"a@b.org","homepage":"","homepage":"x"}`, bad: true},
		{name: "TwiceForm", mt: form, field: "homepage", body: "email=a%40b.org&homepage=&homepage=x", bad: true},
		{name: "NotAString", mt: js, field: "homepage", body: `{"email":"a@b.org","homepage":1}`, bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := decodeSignup(tt.mt, []byte(tt.body), tt.field)
			if tt.bad {
				if err == nil {
					t.Fatalf("decodeSignup = %+v, want an error", f)
				}
				return
			}
			if err != nil || f.Website != tt.want || f.Email != "a@b.org" {
				t.Fatalf("decodeSignup = %+v, %v; want honeypot %q", f, err, tt.want)
			}
		})
	}
}
