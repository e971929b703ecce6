package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadSecret(t *testing.T) {
	t.Setenv("HAVEN_SECRET_KEY", "")
	data := t.TempDir()
	opts := &options{data: data}

	// Without configuration the key is made once in the data folder.
	made, err := loadSecret(opts)
	if err != nil {
		t.Fatal(err)
	}
	again, err := loadSecret(opts)
	if err != nil || string(again) != string(made) {
		t.Fatalf("second start: %q, %v; want %q", again, err, made)
	}

	// The environment wins over the data folder.
	env := strings.Repeat("e", 40)
	t.Setenv("HAVEN_SECRET_KEY", env+"\n")
	if got, err := loadSecret(opts); err != nil || string(got) != env {
		t.Fatalf("HAVEN_SECRET_KEY: %q, %v", got, err)
	}

	// A key file wins over both.
	file := filepath.Join(t.TempDir(), "key")
	key := strings.Repeat("f", 64)
	if err := os.WriteFile(file, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	opts.secretKeyFile = file
	if got, err := loadSecret(opts); err != nil || string(got) != key {
		t.Fatalf("--secret-key-file: %q, %v", got, err)
	}

	// Short or missing keys are refused rather than replaced.
	if err := os.WriteFile(file, []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadSecret(opts); err == nil {
		t.Fatal("a 5-character key was accepted")
	}
	opts.secretKeyFile = filepath.Join(t.TempDir(), "missing")
	if _, err := loadSecret(opts); err == nil {
		t.Fatal("a missing key file was accepted")
	}
}
