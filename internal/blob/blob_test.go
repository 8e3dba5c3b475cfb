package blob

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parleyhq/parley/internal/errs"
)

func TestPutOpenDelete(t *testing.T) {
	d, err := NewDisk(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	data := bytes.Repeat([]byte("0123456789"), 100)
	info, err := d.Put(ctx, "f_abc", bytes.NewReader(data), 1000)
	sum := sha256.Sum256(data)
	if err != nil || info.Size != 1000 || info.SHA256 != hex.EncodeToString(sum[:]) || len(info.Head) != SniffLen {
		t.Fatalf("put: %+v %v", info, err)
	}
	if _, err := d.Put(ctx, "f_abc", strings.NewReader("x"), 10); !errs.Is(err, errs.AlreadyExists) {
		t.Fatalf("second put: %v", err)
	}
	f, err := d.Open(ctx, "f_abc")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(f)
	f.Close()
	if !bytes.Equal(got, data) {
		t.Fatal("read back differs")
	}
	if err := d.Delete(ctx, "f_abc"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Open(ctx, "f_abc"); !errs.Is(err, errs.NotFound) {
		t.Fatalf("open deleted: %v", err)
	}
	if _, err := d.Open(ctx, "../etc"); !errs.Is(err, errs.NotFound) {
		t.Fatalf("traversal: %v", err)
	}
}

func TestPutRefusesOversizeAndLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	d, _ := NewDisk(dir)
	_, err := d.Put(context.Background(), "f_big", bytes.NewReader(make([]byte, 2049)), 2048)
	if !errs.Is(err, errs.FrameTooLarge) {
		t.Fatalf("oversize: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "f_"))
	if len(entries) != 0 {
		t.Fatalf("left %d files behind", len(entries))
	}
	if info, err := d.Put(context.Background(), "f_ok", bytes.NewReader(make([]byte, 2048)), 2048); err != nil || info.Size != 2048 {
		t.Fatalf("exactly the limit: %+v %v", info, err)
	}
}
