// Go net/http keep-alive load, for drain tests and benchmarks: as
// tests/e2e/real_clients.py, with Go's own transport (one a worker, so each
// worker holds one connection). Prints one JSON line.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"time"
)

type tally struct {
	sync.Mutex
	Ok        int            `json:"ok"`
	Truncated int            `json:"truncated"`
	Errors    map[string]int `json:"errors"`
}

func (t *tally) add(ok bool, truncated bool, kind string) {
	t.Lock()
	defer t.Unlock()
	switch {
	case ok:
		t.Ok++
	case truncated:
		t.Truncated++
	default:
		t.Errors[kind]++
	}
}

func worker(url string, length int, think, thinkMax time.Duration, t *tally, stop <-chan struct{}) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}, Timeout: 20 * time.Second}
	for {
		select {
		case <-stop:
			return
		default:
		}
		r, err := client.Get(url)
		if err != nil {
			t.add(false, false, fmt.Sprintf("%T: %v", err, unwrapKind(err)))
		} else {
			n, err := io.Copy(io.Discard, r.Body)
			r.Body.Close()
			switch {
			case err != nil:
				t.add(false, false, "body: "+err.Error())
			case length > 0 && int(n) != length:
				t.add(false, true, "")
			default:
				t.add(true, false, "")
			}
		}
		d := think
		if thinkMax > 0 {
			d = time.Duration(rand.Int63n(int64(thinkMax)))
		}
		if d > 0 {
			select {
			case <-stop:
				return
			case <-time.After(d):
			}
		}
	}
}

// The last error of the chain: EOF, connection reset, ...
func unwrapKind(err error) string {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok || u.Unwrap() == nil {
			return err.Error()
		}
		err = u.Unwrap()
	}
}

func main() {
	url := flag.String("url", "", "URL to ask for")
	workers := flag.Int("workers", 4, "connections, one a worker")
	seconds := flag.Float64("seconds", 3, "how long")
	think := flag.Duration("think", 0, "pause between answer and next request")
	thinkMax := flag.Duration("think-max", 0, "random pause up to this instead")
	length := flag.Int("length", 0, "expected body length; 0: any")
	flag.Parse()

	t := &tally{Errors: map[string]int{}}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < *workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			worker(*url, *length, *think, *thinkMax, t, stop)
		}()
	}
	start := time.Now()
	out := map[string]interface{}{"client": "go"}
	if args := flag.Args(); len(args) > 0 {
		cmd := exec.Command(args[0], args[1:]...)
		stdout, err := cmd.Output()
		rc := 0
		if err != nil {
			rc = 1
		}
		out["cmd"] = map[string]interface{}{"rc": rc, "stdout": string(stdout)}
	}
	if left := time.Duration(*seconds*float64(time.Second)) - time.Since(start); left > 0 {
		time.Sleep(left)
	}
	close(stop)
	wg.Wait()
	out["ok"], out["truncated"], out["errors"] = t.Ok, t.Truncated, t.Errors
	json.NewEncoder(os.Stdout).Encode(out)
}
