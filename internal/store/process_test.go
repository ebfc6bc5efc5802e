package store_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/wxcloudenv/wxcloudenv/internal/store"
)

// helperEnv, when set, turns the test binary into one of the processes of
// TestFileAcrossProcesses: its value is the store URL.
const helperEnv = "WXCLOUDENV_STORE_TEST_HELPER"

const helperIncrements = 15

func TestMain(m *testing.M) {
	if url := os.Getenv(helperEnv); url != "" {
		os.Exit(helperProcess(url))
	}
	os.Exit(m.Run())
}

// helperProcess waits for "go" on stdin, races for the lease, prints "won"
// or "lost", then adds helperIncrements to the counter.
func helperProcess(url string) int {
	ctx := context.Background()
	s, err := store.Open(url)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer s.Close()
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		fmt.Fprintln(os.Stderr, "stdin:", err)
		return 2
	}
	won, err := s.CompareAndSwap(ctx, "lease", nil, store.Value{Data: []byte(strconv.Itoa(os.Getpid()))})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if won {
		fmt.Println("won")
	} else {
		fmt.Println("lost")
	}
	for range helperIncrements {
		if err := increment(ctx, s, "counter"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
	}
	return 0
}

// TestFileAcrossProcesses runs several real processes on one bbolt file:
// exactly one wins the lease, and no increment is lost.
func TestFileAcrossProcesses(t *testing.T) {
	t.Parallel()
	url := "file://" + t.TempDir() + "/shared.db"
	const procs = 6
	type proc struct {
		cmd   *exec.Cmd
		stdin io.WriteCloser
		out   strings.Builder
		err   strings.Builder
	}
	ps := make([]*proc, procs)
	for i := range ps {
		p := &proc{cmd: exec.Command(os.Args[0], "-test.run=^$")}
		p.cmd.Env = append(os.Environ(), helperEnv+"="+url)
		p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.err
		var err error
		if p.stdin, err = p.cmd.StdinPipe(); err != nil {
			t.Fatal(err)
		}
		if err := p.cmd.Start(); err != nil {
			t.Fatalf("start helper process: %v", err)
		}
		ps[i] = p
	}
	for _, p := range ps {
		if _, err := io.WriteString(p.stdin, "go\n"); err != nil {
			t.Fatalf("release helper: %v", err)
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, procs)
	for i, p := range ps {
		wg.Go(func() { errs[i] = p.cmd.Wait() })
	}
	wg.Wait()
	winners := 0
	for i, p := range ps {
		if errs[i] != nil {
			t.Fatalf("helper process %d: %v; stderr: %s", i, errs[i], p.err.String())
		}
		switch out := strings.TrimSpace(p.out.String()); out {
		case "won":
			winners++
		case "lost":
		default:
			t.Fatalf("helper process %d printed %q", i, out)
		}
	}
	if winners != 1 {
		t.Errorf("%d processes won the lease, want exactly 1", winners)
	}
	s, err := store.Open(url)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(t.Context(), "counter")
	if err != nil {
		t.Fatalf("Get(counter) = %v", err)
	}
	if want := strconv.Itoa(procs * helperIncrements); string(got.Data) != want {
		t.Errorf("counter = %s after %d processes × %d increments, want %s", got.Data, procs, helperIncrements, want)
	}
}
