package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/signupguard/signupguard/api"
)

// chromium is Debian's package; scripts/test installs it when it can.
const chromium = "/usr/bin/chromium"

// newBrowser starts a headless Chromium with a fresh profile and returns a
// context for its first tab.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		t.Skipf("SKIP browser test: %s is missing (scripts/test installs it with apt-get when run as root; or apt-get install chromium)", chromium)
	}
	alloc, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	t.Cleanup(cancel)
	ctx, cancelTab := chromedp.NewContext(alloc)
	t.Cleanup(cancelTab)
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start %s: %v", chromium, err)
	}
	return ctx
}

// website serves a page holding the README's form snippet, pointed at the
// signupguard server at apiURL, and the page the form redirects to. It is
// on another origin than signupguard, as a real website would be.
func website(t *testing.T) (*httptest.Server, func(apiURL string)) {
	t.Helper()
	snippet, err := os.ReadFile("static/form.html")
	if err != nil {
		t.Fatal(err)
	}
	var page string
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<!doctype html><html lang=en><head><meta charset=utf-8><title>News</title></head><body>%s</body></html>", page)
	})
	mux.HandleFunc("GET /newsletter/thanks", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html lang=en><head><meta charset=utf-8><title>Thanks</title></head><body><p id="thanks">Outcome: %s</p></body></html>`,
			r.URL.Query().Get("signupguard"))
	})
	return srv, func(apiURL string) {
		page = strings.NewReplacer("https://signup.example.org", apiURL, "https://www.example.org", srv.URL).Replace(string(snippet))
	}
}

func TestFormInBrowser(t *testing.T) {
	browser := newBrowser(t)
	site, point := website(t)
	s := newLiveServer(t, api.Config{CORSOrigins: []string{site.URL}}, parts{})
	point(s.URL)

	// newTab opens a tab of the browser with a deadline: a test waiting for
	// a message that never comes must fail, not hang.
	newTab := func(t *testing.T) context.Context {
		t.Helper()
		tab, cancel := chromedp.NewContext(browser)
		t.Cleanup(cancel)
		tab, cancelTimeout := context.WithTimeout(tab, 60*time.Second)
		t.Cleanup(cancelTimeout)
		return tab
	}
	must := func(t *testing.T, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	const (
		email  = chromedp.CSS("#signupguard-email")
		status = chromedp.CSS("#signupguard-status")
		submit = chromedp.CSS("form[data-signupguard] button[type=submit]")
	)

	t.Run("Success", func(t *testing.T) {
		tab := newTab(t)
		must(t, chromedp.Do(tab,
			chromedp.Navigate(site.URL+"/"),
			chromedp.WaitReady(email),
			chromedp.SendKeys(email, "browser.user@example.com"),
			chromedp.Click(submit),
			chromedp.WaitVisible(status+`[data-state="success"]`),
		))
		text, err := chromedp.Run(tab, chromedp.Text(status))
		must(t, err)
		live, err := chromedp.Run(tab, chromedp.AttributeValue(status, "aria-live"))
		must(t, err)
		if text != "Thank you: you are signed up." || live.Value != "polite" {
			t.Errorf("status %q (aria-live %q), want the thank-you message announced politely", text, live.Value)
		}
		var stored string
		if err := s.db.Pool.QueryRow(context.Background(), "select address from subscribers").Scan(&stored); err != nil || stored != "browser.user@example.com" {
			t.Errorf("stored %q (%v), want browser.user@example.com", stored, err)
		}
	})

	t.Run("ErrInvalidEmail", func(t *testing.T) {
		tab := newTab(t)
		must(t, chromedp.Do(tab,
			chromedp.Navigate(site.URL+"/"),
			chromedp.WaitReady(email),
			// Passes the browser's own type=email check; signupguard refuses it.
			chromedp.SendKeys(email, "jane@localhost"),
			chromedp.Click(submit),
			chromedp.WaitVisible(status+`[data-state="error"]`),
		))
		text, err := chromedp.Run(tab, chromedp.Text(status))
		must(t, err)
		invalid, err := chromedp.Run(tab, chromedp.AttributeValue(email, "aria-invalid"))
		must(t, err)
		if text != "Please enter a valid e-mail address." || invalid.Value != "true" {
			t.Errorf("status %q, aria-invalid %q; want the server's message and the field marked invalid", text, invalid.Value)
		}
		if n := s.rows(t); n != 1 {
			t.Errorf("%d rows, want only the one from Success", n)
		}
	})

	t.Run("JavaScriptOff", func(t *testing.T) {
		tab := newTab(t)
		must(t, chromedp.Do(tab)) // opens the tab
		_, err := chromedp.Call(tab, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		must(t, err)
		must(t, chromedp.Do(tab,
			chromedp.Navigate(site.URL+"/"),
			chromedp.WaitReady(email),
			chromedp.SendKeys(email, "no.script@example.com"),
			chromedp.Click(submit),
			chromedp.WaitReady(chromedp.CSS("#thanks")),
		))
		outcome, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS("#thanks")))
		must(t, err)
		location, err := chromedp.Run(tab, chromedp.Location())
		must(t, err)
		if outcome != "Outcome: accepted" || !strings.HasPrefix(location, site.URL+"/newsletter/thanks?") {
			t.Errorf("landed on %s saying %q, want the website's thanks page with outcome accepted", location, outcome)
		}
		var n int
		if err := s.db.Pool.QueryRow(context.Background(), "select count(*) from subscribers where address = 'no.script@example.com'").Scan(&n); err != nil || n != 1 {
			t.Errorf("%d rows for the plain form post (%v), want 1", n, err)
		}
	})
}
