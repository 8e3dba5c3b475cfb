package app

import (
	_ "embed"
	"net/http"
)

// mediaTestPage is a minimal browser client of the audio protocol, used by
// the browser tests (test/browser) and served only with media.test_page.
//
//go:embed mediapage.html
var mediaTestPage []byte

func serveMediaTestPage(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(mediaTestPage)
}
