// Package webapp serves Parley's browser app: the bundle that web/build.mjs
// writes into dist/ and that is embedded in the binary, so a fresh clone's
// `parley serve` needs no Node.js. Handler is safe for concurrent use.
package webapp

import (
	"embed"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
)

//go:embed all:dist
var dist embed.FS

// csp lets the app load nothing from outside the server: its own script,
// style and uploads, WebSockets to itself, and media from the microphone.
const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
	"media-src 'self' blob:; connect-src 'self' ws: wss:; font-src 'self'; object-src 'none'; " +
	"base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

// Handler serves the app: index.html at "/" (and for any path that is not
// an asset or under /v1/, so client-side routes load the app), the assets by
// name.
func Handler() http.Handler {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // the embed pattern guarantees dist exists
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
		if name == "v1" || strings.HasPrefix(name, "v1/") {
			http.NotFound(w, r) // an unknown API path is not an app route
			return
		}
		if name == "" || strings.HasPrefix(name, ".") {
			name = "index.html"
		}
		data, err := fs.ReadFile(sub, name)
		if err != nil {
			name = "index.html"
			if data, err = fs.ReadFile(sub, name); err != nil {
				http.Error(w, "the web app is not built", http.StatusNotFound)
				return
			}
		}
		h := w.Header()
		if ct := mime.TypeByExtension(path.Ext(name)); ct != "" {
			h.Set("Content-Type", ct)
		}
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		// Asset names are not content-hashed: revalidate every load, cheaply.
		h.Set("Cache-Control", "no-cache")
		http.ServeContent(w, r, name, modTime, strings.NewReader(string(data)))
	})
}
