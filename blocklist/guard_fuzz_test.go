package blocklist

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzCheckBody: the body guards never panic, and refuse exactly the bodies
// with nothing but white space as empty.
func FuzzCheckBody(f *testing.F) {
	f.Add([]byte("192.0.2.1\n"), "text/plain")
	f.Add([]byte("\xef\xbb\xbf \n"), "")
	f.Add([]byte("<!DOCTYPE html><p>hi"), "text/plain")
	f.Add([]byte("192.0.2.1"), "text/html; charset=\"")
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		err := checkBody(Download{Body: body, ContentType: contentType})
		blank := len(bytes.TrimSpace(bytes.TrimPrefix(body, []byte("\xef\xbb\xbf")))) == 0
		if blank != errors.Is(err, ErrEmpty) {
			t.Fatalf("blank %v, err %v", blank, err)
		}
	})
}
