// Command web is hive's test workload: a static HTTP server that answers
// with its hostname, plus a few sub-commands that make a container behave
// in ways tests need (exit with a code, ignore SIGTERM, print lines, read a
// file). It is built with CGO_ENABLED=0 into a FROM scratch image by
// build.sh; no registry is needed.
//
//	web [serve]           HTTP on :$PORT (80): / -> "<hostname> <version>",
//	                      /healthz, /exit?code=N, /env?name=X, /file?path=P
//	web exit N            print a line and exit with code N
//	web ignore-term       ignore SIGTERM, run until killed
//	web print N           print "line 1".."line N" (and one stderr line), then wait
//	web cat PATH          print the file, then wait
//	web write PATH TEXT   write TEXT to PATH, then wait
//	web whoami            print uid:gid and working dir, then wait
//	web stat PATH...      print each file's owner, mode, filesystem and
//	                      content (or why it cannot be read), then wait
//	web env NAME...       print NAME=value for each name, then wait
//	web lookup NAME...    print "NAME: addr addr" for each name (sorted; or the
//	                      error), asking the container's resolver, then wait
//	web fetch URL...      print "URL: body" of a GET of each URL (or the error),
//	                      then wait
//	web sleep             wait
//	web spin              keep one CPU busy, until SIGTERM or SIGINT
//	web healthcheck       exit 0 if /healthz on $PORT answers 200 (for HEALTHCHECK)
//
// "wait" means: run until SIGTERM or SIGINT, then exit 0.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// signals receives SIGTERM and SIGINT from the very start, so a signal
// sent right after the container starts is never missed.
var signals = make(chan os.Signal, 1)

// spun is the count of the spin loop, kept where the compiler cannot drop
// the loop.
var spun atomic.Uint64

func main() {
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	args := os.Args[1:]
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	if err := run(cmd, args); err != nil {
		fmt.Fprintln(os.Stderr, "web:", err)
		os.Exit(2)
	}
}

func run(cmd string, args []string) error {
	switch cmd {
	case "serve":
		return serve()
	case "exit":
		code, err := intArg(args)
		if err != nil {
			return err
		}
		fmt.Printf("exiting with %d\n", code)
		os.Exit(code)
	case "ignore-term":
		signal.Ignore(syscall.SIGTERM)
		// Any other signal keeps its default effect: SIGINT (a stop
		// signal tests choose) ends the program.
		signal.Reset(syscall.SIGINT)
		fmt.Println("ignoring SIGTERM")
		// A bare select{} would be a deadlock to the runtime (no other
		// goroutine), which kills the program with exit code 2.
		for {
			time.Sleep(time.Hour)
		}
	case "print":
		n, err := intArg(args)
		if err != nil {
			return err
		}
		for i := 1; i <= n; i++ {
			fmt.Printf("line %d\n", i)
		}
		fmt.Fprintln(os.Stderr, "err line")
		waitForSignal()
	case "cat":
		if len(args) != 1 {
			return errors.New("usage: web cat PATH")
		}
		b, err := os.ReadFile(args[0])
		if err != nil {
			return err
		}
		os.Stdout.Write(b)
		if len(b) > 0 && b[len(b)-1] != '\n' {
			// A partial line stays in the engine's buffer until the
			// container exits; end it so it shows in the logs now.
			os.Stdout.Write([]byte{'\n'})
		}
		waitForSignal()
	case "write":
		if len(args) != 2 {
			return errors.New("usage: web write PATH TEXT")
		}
		if err := os.WriteFile(args[0], []byte(args[1]), 0o644); err != nil {
			return err
		}
		fmt.Println("wrote", args[0])
		waitForSignal()
	case "stat":
		if len(args) == 0 {
			return errors.New("usage: web stat PATH [PATH ...]")
		}
		for _, p := range args {
			fmt.Println(statLine(p))
		}
		waitForSignal()
	case "whoami":
		wd, _ := os.Getwd()
		fmt.Printf("%d:%d %s\n", os.Getuid(), os.Getgid(), wd)
		waitForSignal()
	case "env":
		for _, name := range args {
			fmt.Printf("%s=%s\n", name, os.Getenv(name))
		}
		waitForSignal()
	case "lookup":
		for _, name := range args {
			fmt.Println(lookupLine(name))
		}
		waitForSignal()
	case "fetch":
		for _, u := range args {
			fmt.Println(fetchLine(u))
		}
		waitForSignal()
	case "sleep":
		waitForSignal()
	case "spin":
		go func() {
			for n := uint64(0); ; n++ {
				spun.Store(n)
			}
		}()
		waitForSignal()
	case "healthcheck":
		c := http.Client{Timeout: 2 * time.Second}
		resp, err := c.Get("http://127.0.0.1:" + port() + "/healthz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			os.Exit(1)
		}
	default:
		return fmt.Errorf("unknown command %q", cmd)
	}
	return nil
}

// lookupLine resolves name through the container's resolver, trying for
// a few seconds (the resolver of a task on a network starts with it).
func lookupLine(name string) string {
	var err error
	for range 30 {
		var addrs []string
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		addrs, err = net.DefaultResolver.LookupHost(ctx, name)
		cancel()
		if err == nil {
			sort.Strings(addrs)
			return name + ": " + strings.Join(addrs, " ")
		}
		if dnsErr, ok := err.(*net.DNSError); ok && dnsErr.IsNotFound {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Sprintf("%s: %v", name, err)
}

// fetchLine GETs u on a new connection (so that a virtual IP may send
// each to another task), trying for a few seconds as lookupLine does.
func fetchLine(u string) string {
	c := http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	var err error
	for range 30 {
		var resp *http.Response
		if resp, err = c.Get(u); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return u + ": " + strings.TrimSpace(string(b))
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Sprintf("%s: %v", u, err)
}

func intArg(args []string) (int, error) {
	if len(args) != 1 {
		return 0, errors.New("want one number")
	}
	return strconv.Atoi(args[0])
}

func port() string {
	if p := os.Getenv("PORT"); p != "" {
		return p
	}
	return "80"
}

func waitForSignal() {
	<-signals
	fmt.Println("stopping")
	os.Exit(0)
}

func serve() error {
	host, _ := os.Hostname()
	version := os.Getenv("VERSION")
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s\n", host, version)
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if _, err := os.Stat("/tmp/unhealthy"); err == nil || os.Getenv("UNHEALTHY") != "" {
			http.Error(w, "unhealthy", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/exit", func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(r.URL.Query().Get("code"))
		fmt.Fprintf(w, "exiting with %d\n", code)
		w.(http.Flusher).Flush()
		go func() {
			time.Sleep(50 * time.Millisecond)
			os.Exit(code)
		}()
	})
	mux.HandleFunc("/env", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, os.Getenv(r.URL.Query().Get("name")))
	})
	mux.HandleFunc("/file", func(w http.ResponseWriter, r *http.Request) {
		b, err := os.ReadFile(r.URL.Query().Get("path"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		w.Write(b)
	})
	srv := &http.Server{Addr: ":" + port(), Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	if os.Getenv("CRASH") != "" {
		fmt.Println("crashing on start as asked by CRASH")
		os.Exit(3)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	fmt.Printf("serving %s on :%s\n", version, port())
	select {
	case err := <-errc:
		return err
	case <-signals:
	}
	fmt.Println("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// statLine describes a file in one line:
//
//	PATH uid=U gid=G mode=0400 fs=tmpfs content="..."
//
// or "PATH error=..." when it cannot be read.
func statLine(p string) string {
	var st syscall.Stat_t
	if err := syscall.Stat(p, &st); err != nil {
		return fmt.Sprintf("%s error=%q", p, err.Error())
	}
	var fs syscall.Statfs_t
	if err := syscall.Statfs(p, &fs); err != nil {
		return fmt.Sprintf("%s error=%q", p, err.Error())
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return fmt.Sprintf("%s uid=%d gid=%d mode=%04o fs=%s error=%q", p, st.Uid, st.Gid, st.Mode&0o7777, fsName(fs.Type), err.Error())
	}
	return fmt.Sprintf("%s uid=%d gid=%d mode=%04o fs=%s content=%q", p, st.Uid, st.Gid, st.Mode&0o7777, fsName(fs.Type), b)
}

// fsName names the filesystems a test may meet.
func fsName(magic int64) string {
	switch uint32(magic) {
	case 0x01021994:
		return "tmpfs"
	case 0x794c7630:
		return "overlay"
	case 0xef53:
		return "ext4"
	case 0x58465342:
		return "xfs"
	case 0x9123683e:
		return "btrfs"
	}
	return fmt.Sprintf("0x%x", magic)
}
