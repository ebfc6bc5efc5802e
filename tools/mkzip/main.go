// Command mkzip writes a zip archive of executables, so that packaging
// needs only Go: go run ./tools/mkzip -o out.zip name=path ...
//
// Each entry is stored at the zip's root under name with mode 0755, as
// Lambda's provided runtimes and SCF's Go1 runtime need.
package main

import (
	"archive/zip"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

func main() {
	out := flag.String("o", "", "the zip file to write")
	flag.Parse()
	if *out == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: mkzip -o out.zip name=path ...")
		os.Exit(2)
	}
	if err := write(*out, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "mkzip:", err)
		os.Exit(1)
	}
}

func write(out string, entries []string) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	zw := zip.NewWriter(f)
	for _, e := range entries {
		name, path, ok := strings.Cut(e, "=")
		if !ok {
			return fmt.Errorf("entry %q is not name=path", e)
		}
		if err := add(zw, name, path); err != nil {
			return fmt.Errorf("adding %s: %w", path, err)
		}
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return f.Close()
}

func add(zw *zip.Writer, name, path string) error {
	src, err := os.Open(path)
	if err != nil {
		return err
	}
	defer src.Close()
	h := &zip.FileHeader{Name: name, Method: zip.Deflate, Modified: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	h.SetMode(0o755)
	w, err := zw.CreateHeader(h)
	if err != nil {
		return err
	}
	_, err = io.Copy(w, src)
	return err
}
