package config_test

import (
	"bufio"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/wxcloudenv/wxcloudenv/internal/config/usage"
)

// varName is a configuration variable's name in backquotes.
var varName = regexp.MustCompile("`([A-Z][A-Z0-9_]+)`")

// tableRows returns, for each variable named in the first cell of a row of
// a markdown table whose header's first cell is "variable", how many rows
// name it.
func tableRows(t *testing.T, path string) map[string]int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows := map[string]int{}
	inTable := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "|") {
			inTable = false
			continue
		}
		cells := strings.Split(line, "|")
		first := strings.TrimSpace(cells[1])
		if first == "variable" {
			inTable = true
			continue
		}
		if !inTable {
			continue
		}
		for _, m := range varName.FindAllStringSubmatch(first, -1) {
			rows[m[1]]++
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

// usageVariables returns the variables usage.Write lists.
func usageVariables(t *testing.T) []string {
	t.Helper()
	var b strings.Builder
	if err := usage.Write(&b); err != nil {
		t.Fatal(err)
	}
	var vars []string
	for _, line := range strings.Split(b.String(), "\n")[1:] {
		name, _, _ := strings.Cut(line, " ")
		if name == "" {
			break // the footnote after the table
		}
		vars = append(vars, name)
	}
	return vars
}

// TestContractListsEveryVariableOnce: docs/contract.md is the reference:
// every variable usage.Write lists has exactly one row in its variable
// tables, and no row names a variable the configuration does not read.
func TestContractListsEveryVariableOnce(t *testing.T) {
	t.Parallel()
	rows := tableRows(t, "../../docs/contract.md")
	vars := usageVariables(t)
	if len(vars) < 20 {
		t.Fatalf("usage.Write lists %d variables: the parse of its output is wrong", len(vars))
	}
	known := map[string]bool{}
	for _, v := range vars {
		known[v] = true
		if rows[v] != 1 {
			t.Errorf("%s is in %d rows of docs/contract.md's variable tables, want 1 (add it to the table of its group)", v, rows[v])
		}
	}
	for v := range rows {
		if !known[v] {
			t.Errorf("docs/contract.md's variable tables list %s, which usage.Write does not: remove the row, or add the variable to internal/config", v)
		}
	}
}

// TestReadmeHasNoVariableTable: the README links to the contract's
// variable tables instead of keeping a copy.
func TestReadmeHasNoVariableTable(t *testing.T) {
	t.Parallel()
	if rows := tableRows(t, "../../README.md"); len(rows) > 0 {
		t.Errorf("README.md has a variable table (%d variables); link to docs/contract.md#configuration instead", len(rows))
	}
}
