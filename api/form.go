package api

import (
	"embed"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"
)

// static holds the drop-in form's script. Beside it, static/form.html is
// the snippet the README shows and the browser test serves as a website
// would.
//
//go:embed static/signupguard.js
var static embed.FS

// handleScript serves /signupguard.js.
func handleScript() gin.HandlerFunc {
	js, err := static.ReadFile("static/signupguard.js")
	if err != nil {
		panic(err) // embedded at build time
	}
	return func(c *gin.Context) {
		c.Header("Cache-Control", "public, max-age=3600")
		c.Data(http.StatusOK, "text/javascript; charset=utf-8", js)
	}
}

// origins is the set of website origins allowed to post from a browser
// (CORS) and to be sent back to after a plain form post (redirect).
// Entries are scheme://host[:port], as browsers send them in Origin.
type origins []string

func newOrigins(list []string) origins {
	var o origins
	for _, s := range list {
		o = append(o, strings.ToLower(strings.TrimSuffix(s, "/")))
	}
	return o
}

func (o origins) allows(origin string) bool {
	return origin != "" && slices.Contains(o, strings.ToLower(origin))
}

// cors answers preflights and marks answers to allowed origins readable.
// A post from another origin is still served: CORS keeps a page from
// reading the answer, it does not stop a form from posting, and signups are
// public anyway.
func cors(allowed origins) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Writer.Header().Add("Vary", "Origin")
		origin := c.GetHeader("Origin")
		if allowed.allows(origin) {
			c.Header("Access-Control-Allow-Origin", origin)
			c.Header("Access-Control-Expose-Headers", "Retry-After, X-Request-Id")
			if c.Request.Method == http.MethodOptions {
				c.Header("Access-Control-Allow-Methods", "POST")
				c.Header("Access-Control-Allow-Headers", "Content-Type")
				c.Header("Access-Control-Max-Age", "600")
			}
		}
		if c.Request.Method == http.MethodOptions {
			c.AbortWithStatus(http.StatusNoContent)
		}
	}
}

// isBrowserForm reports whether r, whose body has media type mt, is a plain
// HTML form submitted by a browser navigating (no JavaScript): a form body
// and an Accept header naming text/html. Such a request is answered with a
// redirect or a page; every other request (curl, the script's JSON) gets
// JSON.
func isBrowserForm(r *http.Request, mt string) bool {
	return mt == "application/x-www-form-urlencoded" && strings.Contains(r.Header.Get("Accept"), "text/html")
}

// formAnswer answers a browser form post: a 303 to redirect when its origin
// is allowed, with the outcome in the query parameter "signupguard";
// otherwise a small page saying the outcome. An unlisted redirect is
// ignored, never followed: signupguard must not be an open redirect.
func formAnswer(c *gin.Context, allowed origins, redirect string, status int, outcome, message string) {
	if u, ok := allowedRedirect(allowed, redirect); ok {
		q := u.Query()
		q.Set("signupguard", outcome)
		u.RawQuery = q.Encode()
		c.Redirect(http.StatusSeeOther, u.String())
		c.Abort()
		return
	}
	c.Header("Content-Type", "text/html; charset=utf-8")
	c.Header("Cache-Control", "no-store")
	c.Status(status)
	outcomePage.Execute(c.Writer, struct {
		OK      bool
		Message string
	}{status < 300, message})
	c.Abort()
}

// allowedRedirect parses s and reports whether it is an absolute http(s)
// URL on an allowed origin.
func allowedRedirect(allowed origins, s string) (*url.URL, bool) {
	if s == "" {
		return nil, false
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return nil, false
	}
	return u, allowed.allows(u.Scheme + "://" + u.Host)
}

// formError answers err to a browser form post.
func formError(c *gin.Context, log *slog.Logger, allowed origins, redirect string, err error) {
	status, e := classify(c, log, err)
	formAnswer(c, allowed, redirect, status, string(e.Code), e.Message)
}

var outcomePage = template.Must(template.New("outcome").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{if .OK}}Thank you{{else}}Signup not accepted{{end}}</title>
</head>
<body>
<main>
<h1>{{if .OK}}Thank you{{else}}Signup not accepted{{end}}</h1>
<p role="status">{{.Message}}</p>
{{if not .OK}}<p>Go back to the form to try again.</p>{{end}}
</main>
</body>
</html>
`))
