package webapp

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func get(t *testing.T, path string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec
}

// TestServesTheEmbeddedApp: "/" and client routes get index.html, assets
// their own content type, every response a CSP that keeps the app on the
// server's own origin.
func TestServesTheEmbeddedApp(t *testing.T) {
	for _, p := range []string{"/", "/index.html", "/some/client/route"} {
		rec := get(t, p)
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), `<div id="app"`) {
			t.Fatalf("%s: %d %q", p, rec.Code, rec.Body.String())
		}
		if !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
			t.Fatalf("%s: content type %q", p, rec.Header().Get("Content-Type"))
		}
		if !strings.Contains(rec.Header().Get("Content-Security-Policy"), "default-src 'self'") {
			t.Fatalf("%s: CSP %q", p, rec.Header().Get("Content-Security-Policy"))
		}
	}
	for p, ct := range map[string]string{"/app.js": "text/javascript", "/app.css": "text/css"} {
		rec := get(t, p)
		if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), ct) || rec.Body.Len() == 0 {
			t.Fatalf("%s: %d %q %d bytes", p, rec.Code, rec.Header().Get("Content-Type"), rec.Body.Len())
		}
	}
	if rec := get(t, "/v1/nope"); rec.Code != 404 {
		t.Fatalf("an unknown API path: %d", rec.Code)
	}
	if rec := get(t, "/.gitkeep"); strings.Contains(rec.Body.String(), "gitkeep") || rec.Code != 200 {
		t.Fatalf("dot files are not served: %d", rec.Code)
	}
}

// TestCompressesAndRevalidates: a client that accepts gzip gets the
// compressed script, which decompresses to the same bytes; a reload with the
// ETag is answered 304 without a body.
func TestCompressesAndRevalidates(t *testing.T) {
	plain := get(t, "/app.js")
	req := httptest.NewRequest(http.MethodGet, "/app.js", nil)
	req.Header.Set("Accept-Encoding", "br, gzip;q=0.9")
	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, req)
	if rec.Header().Get("Content-Encoding") != "gzip" || rec.Body.Len() >= plain.Body.Len() {
		t.Fatalf("gzip: encoding %q, %d bytes of %d", rec.Header().Get("Content-Encoding"), rec.Body.Len(), plain.Body.Len())
	}
	zr, err := gzip.NewReader(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(got, plain.Body.Bytes()) {
		t.Fatalf("the gzip body differs from the plain one (%v)", err)
	}
	etag := plain.Header().Get("ETag")
	req = httptest.NewRequest(http.MethodGet, "/app.js", nil)
	req.Header.Set("If-None-Match", etag)
	rec = httptest.NewRecorder()
	Handler().ServeHTTP(rec, req)
	if etag == "" || rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
		t.Fatalf("revalidation with %q: %d, %d bytes", etag, rec.Code, rec.Body.Len())
	}
}
