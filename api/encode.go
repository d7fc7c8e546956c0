package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/signupguard/signupguard/service"
)

// maxBody is the largest request body accepted (SPEC: 16 KiB).
const maxBody = 16 << 10

// maxName is the longest display name accepted, in characters.
const maxName = 200

// signupFields are the body fields /subscribe reads. Others are ignored:
// real forms carry extra inputs. Website holds the honeypot field, whatever
// its configured name.
type signupFields struct {
	Email, List, Name, Website string
	// Redirect is where a browser form post without JavaScript is sent
	// afterwards, if its origin is allowed (see form.go).
	Redirect string
}

// defaultHoneypot is the honeypot field's name unless configured (SPEC).
const defaultHoneypot = "website"

// mediaType checks what r's headers say of its body: a JSON or form media
// type in UTF-8, and no declared length over maxBody. This much is known
// before the body is read, so it is checked before anything else. It
// returns the media type as the Content-Type header names it even with an
// error, so that a refused browser form is still answered as one.
func mediaType(r *http.Request) (string, error) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/json" && mt != "application/x-www-form-urlencoded") {
		return mt, service.Errorf(codeUnsupportedMedia, "Send the form as application/json or application/x-www-form-urlencoded.")
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return mt, service.Errorf(codeUnsupportedMedia, "Send the form encoded as UTF-8.")
	}
	if r.ContentLength > maxBody {
		return mt, service.Errorf(codeTooLarge, "The form is larger than %d bytes.", maxBody)
	}
	return mt, nil
}

// readBody reads r's body, refusing one over maxBody whatever its
// Content-Length said.
func readBody(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBody))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, service.Errorf(codeTooLarge, "The form is larger than %d bytes.", maxBody)
	case err != nil:
		return nil, &service.Error{Code: service.CodeInvalidRequest, Message: "The form could not be read.", Err: err}
	}
	return body, nil
}

// decodeSignup decodes a body of media type mt, reading the honeypot from
// the field named honeypot. Known fields must be strings and appear once;
// unknown fields are ignored.
func decodeSignup(mt string, body []byte, honeypot string) (signupFields, error) {
	if honeypot == "" {
		honeypot = defaultHoneypot
	}
	var f signupFields
	var err error
	if !utf8.Valid(body) {
		err = errors.New("body is not valid UTF-8")
	} else if mt == "application/json" {
		f, err = decodeJSON(body, honeypot)
	} else {
		f, err = decodeForm(body, honeypot)
	}
	if err == nil {
		err = checkFields(f)
	}
	if err != nil {
		return signupFields{}, &service.Error{Code: service.CodeInvalidRequest, Message: "The form is malformed: " + err.Error() + ".", Err: err}
	}
	return f, nil
}

// field returns the destination of the body field named key, or nil for a
// field /subscribe does not read. Names match exactly: encoding/json's
// case-insensitive matching would let "EMAIL" shadow "email".
func (f *signupFields) field(key, honeypot string) *string {
	if key == honeypot {
		return &f.Website
	}
	switch key {
	case "email":
		return &f.Email
	case "list":
		return &f.List
	case "name":
		return &f.Name
	case "redirect":
		return &f.Redirect
	}
	return nil
}

// decodeJSON reads one JSON object and nothing after it. It walks tokens
// rather than unmarshalling into a struct, so that duplicate keys (which
// encoding/json resolves silently to the last) are refused.
func decodeJSON(body []byte, honeypot string) (signupFields, error) {
	var f signupFields
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return f, errors.New("body is not a JSON object")
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return f, errors.New("body is not valid JSON")
		}
		key := tok.(string) // inside an object, dec.Token yields keys as strings
		dst := f.field(key, honeypot)
		if dst == nil {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return f, errors.New("body is not valid JSON")
			}
			continue
		}
		if seen[key] {
			return f, fmt.Errorf("field %q appears twice", key)
		}
		seen[key] = true
		var v *string
		if err := dec.Decode(&v); err != nil {
			return f, fmt.Errorf("field %q must be a string", key)
		}
		if v != nil {
			*dst = *v
		}
	}
	if _, err := dec.Token(); err != nil {
		return f, errors.New("body is not valid JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return f, errors.New("data after the JSON object")
	}
	return f, nil
}

// decodeForm reads an application/x-www-form-urlencoded body.
func decodeForm(body []byte, honeypot string) (signupFields, error) {
	var f signupFields
	values, err := url.ParseQuery(string(body))
	if err != nil {
		return f, errors.New("body is not a valid form")
	}
	for key, vs := range values {
		dst := f.field(key, honeypot)
		if dst == nil {
			continue
		}
		if len(vs) > 1 {
			return f, fmt.Errorf("field %q appears twice", key)
		}
		if !utf8.ValidString(vs[0]) {
			return f, fmt.Errorf("field %q is not valid UTF-8", key)
		}
		*dst = vs[0]
	}
	return f, nil
}

func checkFields(f signupFields) error {
	switch {
	case f.Email == "":
		return errors.New("the email field is missing")
	case utf8.RuneCountInString(f.Name) > maxName:
		return fmt.Errorf("the name is longer than %d characters", maxName)
	}
	for _, r := range f.Name {
		if r < 0x20 || r == 0x7f {
			return errors.New("the name contains control characters")
		}
	}
	return nil
}
