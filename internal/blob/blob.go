// Package blob is Parley's blob store on local disk: uploaded files, each
// written to a temporary file, synced, and renamed into place, so a stored
// blob is complete or absent, never partial. Blobs live under
// <dir>/<first two characters of the id>/<id>.
package blob

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
)

// SniffLen is how many leading bytes Put returns for content sniffing
// (what http.DetectContentType reads).
const SniffLen = 512

// Info describes a stored blob.
type Info struct {
	Size   int64
	SHA256 string
	// Head holds the first SniffLen bytes (fewer for a smaller blob).
	Head []byte
}

// Disk is a blob store in a directory. It is safe for concurrent use.
type Disk struct {
	dir string
}

// NewDisk returns the store in dir, creating it if needed.
func NewDisk(dir string) (*Disk, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("blob: %w", err)
	}
	return &Disk{dir: dir}, nil
}

func (d *Disk) path(id string) (string, error) {
	if !core.ValidToken(id) || len(id) < 3 || len(id) > 128 {
		return "", errs.E(errs.InvalidArgument, "bad blob id")
	}
	return filepath.Join(d.dir, id[:2], id), nil
}

// Put stores what r yields as blob id. If r yields more than max bytes it
// stores nothing and fails with errs.FrameTooLarge; an existing id fails
// with errs.AlreadyExists.
func (d *Disk) Put(ctx context.Context, id string, r io.Reader, max int64) (Info, error) {
	p, err := d.path(id)
	if err != nil {
		return Info{}, err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		return Info{}, fmt.Errorf("blob: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".put-*")
	if err != nil {
		return Info{}, fmt.Errorf("blob: %w", err)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	h := sha256.New()
	head := &headWriter{}
	n, err := io.Copy(io.MultiWriter(tmp, h, head), io.LimitReader(ctxReader{ctx, r}, max+1))
	if err != nil {
		return Info{}, errs.Wrap(errs.InvalidArgument, err, "reading the upload failed")
	}
	if n > max {
		return Info{}, errs.E(errs.FrameTooLarge, "the file is larger than %d bytes", max)
	}
	if err := tmp.Sync(); err != nil {
		return Info{}, fmt.Errorf("blob: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return Info{}, fmt.Errorf("blob: %w", err)
	}
	if _, err := os.Lstat(p); err == nil {
		return Info{}, errs.E(errs.AlreadyExists, "blob %s exists", id)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return Info{}, fmt.Errorf("blob: %w", err)
	}
	done = true
	return Info{Size: n, SHA256: hex.EncodeToString(h.Sum(nil)), Head: head.b}, nil
}

// Open returns blob id for reading, or an errs.NotFound error.
func (d *Disk) Open(_ context.Context, id string) (*os.File, error) {
	p, err := d.path(id)
	if err != nil {
		return nil, errs.E(errs.NotFound, "no such blob")
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errs.E(errs.NotFound, "no such blob")
	}
	if err != nil {
		return nil, fmt.Errorf("blob: %w", err)
	}
	return f, nil
}

// Delete removes blob id; a missing blob is not an error.
func (d *Disk) Delete(_ context.Context, id string) error {
	p, err := d.path(id)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("blob: %w", err)
	}
	return nil
}

type headWriter struct{ b []byte }

func (h *headWriter) Write(p []byte) (int, error) {
	if n := SniffLen - len(h.b); n > 0 {
		h.b = append(h.b, p[:min(n, len(p))]...)
	}
	return len(p), nil
}

// ctxReader stops reading when ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
