package deploy

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// internalWords are words of the project's own planning that mean nothing
// to a user: the docs, the deploy templates and the code comments name
// sections of docs/contract.md instead.
var internalWords = regexp.MustCompile(`part ` + `one|part ` + `two|\bSP` + `EC\b`)

// TestNoInternalWords: no doc, template, Makefile or Go file uses them.
func TestNoInternalWords(t *testing.T) {
	t.Parallel()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "node_modules", "bin", "dist", ".aws-sam", "testdata":
				return filepath.SkipDir
			}
			return nil
		}
		name := d.Name()
		ext := filepath.Ext(name)
		if ext != ".md" && ext != ".go" && ext != ".yaml" && ext != ".yml" && name != "Makefile" && !strings.HasSuffix(path, ".ci/run") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(b), "\n") {
			if internalWords.MatchString(line) {
				rel, _ := filepath.Rel(root, path)
				t.Errorf("%s:%d: %q: name the section of docs/contract.md instead", rel, i+1, strings.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
