package durable_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/async-rs/embargo/internal/durable"
)

func TestWriteFileLeavesNoTempFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	path := filepath.Join(dir, "journal.json")
	for _, body := range []string{"first\n", "second\n"} {
		if err := durable.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "journal.json" {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("state folder holds %v, want only journal.json", names)
	}
	b, _ := os.ReadFile(path)
	if string(b) != "second\n" {
		t.Errorf("content = %q, want the last write", b)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", fi.Mode().Perm())
	}
}

func TestWriteFileFailureLeavesTheOldFileAndNoTemp(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "journal.json")
	if err := durable.WriteFile(path, []byte("old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A folder where the file should be makes the rename fail.
	blocked := filepath.Join(dir, "blocked")
	if err := os.MkdirAll(filepath.Join(blocked, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := durable.WriteFile(blocked, []byte("new\n"), 0o600); err == nil {
		t.Fatal("writing over a non-empty folder succeeded")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("folder holds %d entries after a failed write, want journal.json and blocked only", len(entries))
	}
	if b, _ := os.ReadFile(path); string(b) != "old\n" {
		t.Errorf("journal = %q, want it untouched", b)
	}
}
