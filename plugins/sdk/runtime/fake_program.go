package runtime

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// program is what a Fake container does when it starts: one of the test
// image's sub-commands, or an unknown program that runs until stopped.
type program struct {
	cmd   string
	args  []string
	known bool // cmd is one of the test image's sub-commands
}

var knownCommands = []string{"serve", "exit", "ignore-term", "print", "cat", "write", "whoami", "env", "stat", "sleep", "spin", "healthcheck"}

// parseProgram reads the spec's command line as the test image's: Args
// with the image's /web entrypoint, or a Command whose first word is web.
func parseProgram(spec *ContainerSpec) program {
	argv := spec.Args
	if len(spec.Command) > 0 {
		if path.Base(spec.Command[0]) != "web" {
			return program{}
		}
		argv = append(slices.Clone(spec.Command[1:]), spec.Args...)
	}
	if len(argv) == 0 {
		return program{cmd: "serve", known: true}
	}
	if !slices.Contains(knownCommands, argv[0]) {
		return program{}
	}
	return program{cmd: argv[0], args: slices.Clone(argv[1:]), known: true}
}

// runLocked plays the start of a container's program: what it prints, the
// files it touches, and whether it exits at once.
func (f *Fake) runLocked(c *fakeContainer) {
	out := func(format string, args ...any) { f.logLocked(c, StreamStdout, fmt.Sprintf(format, args...)) }
	fail := func(err error) {
		f.logLocked(c, StreamStderr, "web: "+err.Error())
		f.exitLocked(c, 2)
	}
	p := c.prog
	switch p.cmd {
	case "serve":
		if c.env("CRASH") != "" {
			out("crashing on start as asked by CRASH")
			f.exitLocked(c, 3)
			return
		}
		port := c.env("PORT")
		if port == "" {
			port = "80"
		}
		out("serving %s on :%s", c.env("VERSION"), port)
	case "exit":
		code, err := oneInt(p.args)
		if err != nil {
			fail(err)
			return
		}
		out("exiting with %d", code)
		f.exitLocked(c, code)
	case "ignore-term":
		out("ignoring SIGTERM")
	case "print":
		n, err := oneInt(p.args)
		if err != nil {
			fail(err)
			return
		}
		for i := 1; i <= n; i++ {
			out("line %d", i)
		}
		f.logLocked(c, StreamStderr, "err line")
	case "cat":
		if len(p.args) != 1 {
			fail(errors.New("usage: web cat PATH"))
			return
		}
		b, err := f.readFileLocked(c, p.args[0])
		if err != nil {
			fail(err)
			return
		}
		for _, line := range strings.SplitAfter(string(b), "\n") {
			if line != "" {
				f.logLocked(c, StreamStdout, strings.TrimSuffix(line, "\n"))
			}
		}
	case "write":
		if len(p.args) != 2 {
			fail(errors.New("usage: web write PATH TEXT"))
			return
		}
		if err := f.writeFileLocked(c, p.args[0], []byte(p.args[1])); err != nil {
			fail(err)
			return
		}
		out("wrote %s", p.args[0])
	case "stat":
		if len(p.args) == 0 {
			fail(errors.New("usage: web stat PATH [PATH ...]"))
			return
		}
		for _, name := range p.args {
			out("%s", f.statLineLocked(c, name))
		}
	case "whoami":
		uid, gid, _ := parseUser(c.spec.User)
		out("%d:%d %s", uid, gid, c.workdir())
	case "env":
		for _, name := range p.args {
			out("%s=%s", name, c.env(name))
		}
	case "healthcheck":
		f.exitLocked(c, 0)
	}
}

func oneInt(args []string) (int, error) {
	if len(args) != 1 {
		return 0, errors.New("want one number")
	}
	return strconv.Atoi(args[0])
}

// parseUser reads a numeric "UID" or "UID:GID"; a scratch image has no
// user database to resolve names with.
func parseUser(user string) (uid, gid int, err error) {
	if user == "" {
		return 0, 0, nil
	}
	u, g, hasGroup := strings.Cut(user, ":")
	if uid, err = strconv.Atoi(u); err != nil || uid < 0 {
		return 0, 0, fmt.Errorf("unable to find user %s: no matching entries in passwd file", u)
	}
	if hasGroup {
		if gid, err = strconv.Atoi(g); err != nil || gid < 0 {
			return 0, 0, fmt.Errorf("unable to find group %s: no matching entries in group file", g)
		}
	}
	return uid, gid, nil
}

func (c *fakeContainer) workdir() string {
	if c.spec.WorkingDir == "" {
		return "/"
	}
	return path.Clean(c.spec.WorkingDir)
}

// env returns the value of a variable of the spec's Env (the last one
// wins), or "".
func (c *fakeContainer) env(name string) string {
	val := ""
	for _, kv := range c.spec.Env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			val = v
		}
	}
	return val
}

// location is where a path of a container's filesystem is stored.
type location struct {
	files    map[string][]byte // volume, tmpfs or the container's layer; nil for a bind
	key      string            // the key in files
	host     string            // the host path, for a bind
	isRoot   bool              // the path is the mount point itself
	readOnly bool
}

// resolve finds where an absolute container path lives: in the mount with
// the longest target that holds it, or in the container's own layer.
func (f *Fake) resolveLocked(c *fakeContainer, p string) location {
	var best *Mount
	for i := range c.spec.Mounts {
		m := &c.spec.Mounts[i]
		t := path.Clean(m.Target)
		if (p == t || strings.HasPrefix(p, strings.TrimSuffix(t, "/")+"/")) && (best == nil || len(t) > len(path.Clean(best.Target))) {
			best = m
		}
	}
	if best == nil {
		return location{files: c.files, key: p}
	}
	rel := strings.TrimPrefix(strings.TrimPrefix(p, path.Clean(best.Target)), "/")
	loc := location{key: rel, isRoot: rel == "", readOnly: best.ReadOnly}
	switch best.Type {
	case MountBind:
		loc.host = filepath.Join(best.Source, filepath.FromSlash(rel))
	case MountVolume:
		loc.files = f.volumes[best.Source]
	case MountTmpfs:
		loc.files = c.tmpfs[path.Clean(best.Target)]
	}
	return loc
}

func (c *fakeContainer) abs(p string) string {
	if !path.IsAbs(p) {
		p = path.Join(c.workdir(), p)
	}
	return path.Clean(p)
}

func (f *Fake) readFileLocked(c *fakeContainer, name string) ([]byte, error) {
	p := c.abs(name)
	loc := f.resolveLocked(c, p)
	if loc.files == nil {
		b, err := os.ReadFile(loc.host)
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: name, Err: unwrapPathErr(err)}
		}
		return b, nil
	}
	if loc.isRoot {
		return nil, &fs.PathError{Op: "read", Path: name, Err: errors.New("is a directory")}
	}
	b, ok := loc.files[loc.key]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: errors.New("no such file or directory")}
	}
	return slices.Clone(b), nil
}

func (f *Fake) writeFileLocked(c *fakeContainer, name string, data []byte) error {
	p := c.abs(name)
	loc := f.resolveLocked(c, p)
	if loc.readOnly {
		return &fs.PathError{Op: "open", Path: name, Err: errors.New("read-only file system")}
	}
	if loc.files == nil {
		if err := os.WriteFile(loc.host, data, 0o644); err != nil {
			return &fs.PathError{Op: "open", Path: name, Err: unwrapPathErr(err)}
		}
		return nil
	}
	if loc.isRoot {
		return &fs.PathError{Op: "open", Path: name, Err: errors.New("is a directory")}
	}
	if !f.dirExistsLocked(c, path.Dir(p)) {
		return &fs.PathError{Op: "open", Path: name, Err: errors.New("no such file or directory")}
	}
	loc.files[loc.key] = slices.Clone(data)
	return nil
}

// dirExistsLocked reports whether a directory exists in the container: the
// root, the working directory, a mount point or a directory above one.
// Inside volumes and tmpfs only the top directory exists (the test image
// makes none).
func (f *Fake) dirExistsLocked(c *fakeContainer, dir string) bool {
	if dir == "/" || dir == c.workdir() || strings.HasPrefix(c.workdir(), dir+"/") {
		return true
	}
	for _, m := range c.spec.Mounts {
		t := path.Clean(m.Target)
		if t == dir || strings.HasPrefix(t, dir+"/") {
			return true
		}
	}
	return false
}

// unwrapPathErr returns the reason of a *fs.PathError, so that the Fake's
// message names the container path, not the host path.
func unwrapPathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// statLineLocked is the test image's `stat` line for a path: owner, mode,
// filesystem and content, or why it cannot be read. A bind mount's file is
// the host's, stat'ed for real (hostStat); a file in memory is owned by
// 0:0 with mode 0644, on "tmpfs" in a tmpfs mount, "volume" in a named
// volume and "overlay" in the container's own layer.
func (f *Fake) statLineLocked(c *fakeContainer, name string) string {
	p := c.abs(name)
	loc := f.resolveLocked(c, p)
	if loc.files == nil {
		return hostStat(name, loc.host)
	}
	b, ok := loc.files[loc.key]
	if loc.isRoot || !ok {
		return fmt.Sprintf("%s error=%q", name, "no such file or directory")
	}
	fsName := "overlay"
	for _, m := range c.spec.Mounts {
		if t := path.Clean(m.Target); p == t || strings.HasPrefix(p, t+"/") {
			switch m.Type {
			case MountTmpfs:
				fsName = "tmpfs"
			case MountVolume:
				fsName = "volume"
			}
		}
	}
	return fmt.Sprintf("%s uid=0 gid=0 mode=0644 fs=%s content=%q", name, fsName, b)
}
