// Package webapp serves Parley's browser app: the bundle that web/build.mjs
// writes into dist/ and that is embedded in the binary, so a fresh clone's
// `parley serve` needs no Node.js. Handler is safe for concurrent use.
package webapp

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed all:dist
var dist embed.FS

// csp lets the app load nothing from outside the server: its own script,
// style and uploads, WebSockets to itself, and media from the microphone.
const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
	"media-src 'self' blob:; connect-src 'self' ws: wss:; font-src 'self'; object-src 'none'; " +
	"base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

// asset is one file of the bundle, with its gzip form when that is smaller.
type asset struct {
	name string
	data []byte
	gz   []byte
	etag string
}

// load reads every file of the bundle once (they never change while the
// process runs).
func load() map[string]*asset {
	out := map[string]*asset{}
	_ = fs.WalkDir(dist, "dist", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			return err
		}
		data, err := dist.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		a := &asset{name: strings.TrimPrefix(p, "dist/"), data: data, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		_, _ = zw.Write(data)
		_ = zw.Close()
		if buf.Len() < len(data)*9/10 {
			a.gz = buf.Bytes()
		}
		out[a.name] = a
		return nil
	})
	return out
}

// Handler serves the app: index.html at "/" (and for any path that is not
// an asset or under /v1/, so client-side routes load the app), the assets by
// name, gzip-compressed for clients that accept it, with an ETag so a
// reload costs a 304.
func Handler() http.Handler {
	assets := load()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
		if name == "v1" || strings.HasPrefix(name, "v1/") {
			http.NotFound(w, r) // an unknown API path is not an app route
			return
		}
		a := assets[name]
		if a == nil {
			a = assets["index.html"]
			if a == nil {
				http.Error(w, "the web app is not built", http.StatusNotFound)
				return
			}
		}
		h := w.Header()
		if ct := mime.TypeByExtension(path.Ext(a.name)); ct != "" {
			h.Set("Content-Type", ct)
		}
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		// Asset names are not content-hashed: revalidate every load, cheaply.
		h.Set("Cache-Control", "no-cache")
		h.Set("Vary", "Accept-Encoding")
		body := a.data
		etag := a.etag
		if a.gz != nil && acceptsGzip(r) {
			body = a.gz
			etag = strings.TrimSuffix(etag, `"`) + `-gz"`
			h.Set("Content-Encoding", "gzip")
		}
		h.Set("ETag", etag)
		http.ServeContent(w, r, a.name, time.Time{}, bytes.NewReader(body))
	})
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") && strings.TrimSpace(q) != "q=0" {
			return true
		}
	}
	return false
}
