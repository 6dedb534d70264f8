package stack

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/tree"
	composetypes "github.com/compose-spec/compose-go/v2/types"
)

// Options say which compose files to load and with what environment.
type Options struct {
	// Files are the compose files, in order: a later one overrides and
	// extends the earlier ones, as `docker stack deploy -c a -c b` and
	// `docker compose -f a -f b` merge them. At least one is required.
	Files []string
	// WorkingDir is where relative paths (bind sources, env_file, secret
	// and config files) and the .env file are found; empty means the
	// directory of the first file.
	WorkingDir string
	// Env is the environment of the process (the CLI's) that ${VAR}
	// interpolates; it takes precedence over the .env file's values.
	Env map[string]string
}

// Model is a loaded stack: the compose files merged, interpolated and
// screened, ready for Validate, Translate and Config. It is not changed
// by them.
type Model struct {
	// Project is compose-go's model of the merged files.
	Project *composetypes.Project
	// Files are the files loaded, as absolute paths.
	Files []string
	src   sources
}

// Warning is a key of a compose file that hive ignores, as docker stack
// deploy does. There is one per key and service.
type Warning struct {
	// Location is "FILE:LINE" where the key is set, when known.
	Location string
	// Key is the key's path, as services.web.build.
	Key string
	// Service is the service the key belongs to ("" for a top-level key).
	Service string
	// Reason says why it is ignored and what to do instead.
	Reason string
}

func (w Warning) String() string {
	loc := ""
	if w.Location != "" {
		loc = w.Location + ": "
	}
	return fmt.Sprintf("%s%s is ignored: %s", loc, w.Key, w.Reason)
}

// projectName is the name compose-go needs to load a model. hive names
// objects after the stack given to Translate, never after it: the default
// names compose-go derives from it are not used.
const projectName = "stack"

// Load reads, merges and interpolates the compose files, and screens
// every key of the result: one hive ignores (as Swarm does) gives a
// Warning; one it cannot do is an error naming where it is and what to do
// instead, and Load reports all of them at once. A malformed file, a key
// that is not compose's, a value of the wrong type and an interpolation
// error (${VAR:?message}) stop compose-go at the first of those in a
// file; explain says it with the file, line and key.
//
// Profiles are refused, as docker stack deploy refuses them (its schema
// has no profiles): a stack runs every service of its files.
func Load(ctx context.Context, opts Options) (*Model, []Warning, error) {
	if len(opts.Files) == 0 {
		return nil, nil, errors.New("no compose file: give at least one with -c FILE")
	}
	files := make([]string, len(opts.Files))
	for i, f := range opts.Files {
		abs, err := filepath.Abs(f)
		if err != nil {
			return nil, nil, fmt.Errorf("compose file %s: %w", f, err)
		}
		if _, err := os.Stat(abs); err != nil {
			return nil, nil, fmt.Errorf("compose file %s: %w", f, err)
		}
		files[i] = abs
	}
	wd := opts.WorkingDir
	if wd == "" {
		wd = filepath.Dir(files[0])
	}
	env := make([]string, 0, len(opts.Env))
	for k, v := range opts.Env {
		env = append(env, k+"="+v)
	}
	sort.Strings(env)

	// The .env file of the working directory, if there is one; the
	// process's variables win over its.
	var dotEnv []string
	if fi, err := os.Stat(filepath.Join(wd, ".env")); err == nil && !fi.IsDir() {
		dotEnv = []string{filepath.Join(wd, ".env")}
	}
	var findings []loader.UnsupportedAttribute
	po, err := cli.NewProjectOptions(files,
		cli.WithName(projectName),
		cli.WithWorkingDirectory(wd),
		cli.WithEnv(env),
		cli.WithEnvFiles(dotEnv...),
		cli.WithDotEnv,
		cli.WithLoadOptions(
			func(o *loader.Options) {
				// hive checks the model itself, reporting every problem
				// at once rather than compose-go's first.
				o.SkipConsistencyCheck = true
				// env_file is read as docker stack deploy reads it
				// (specparse.EnvFile), by Translate.
				o.SkipResolveEnvironment = true
				// include is refused (as docker stack deploy refuses it):
				// left in, the screening reports it.
				o.SkipInclude = true
			},
			loader.WithSupportedAttributes(supportedPaths(), func(f []loader.UnsupportedAttribute) { findings = f }),
		),
	)
	if err != nil {
		return nil, nil, fmt.Errorf("load compose files: %w", err)
	}
	project, err := po.LoadProject(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("load compose files: %w", readSources(files).explain(err))
	}
	m := &Model{Project: project, Files: files, src: readSources(files)}
	warnings, errs := m.screen(findings)
	if len(errs) > 0 {
		return nil, warnings, errors.Join(errs...)
	}
	return m, warnings, nil
}

// screen turns compose-go's findings (keys not among the translated
// ones) into warnings for the ignored keys and errors for the others,
// each once per key and service, in path order.
func (m *Model) screen(findings []loader.UnsupportedAttribute) ([]Warning, []error) {
	var (
		warnings []Warning
		errs     []error
		seen     = map[string]bool{}
	)
	for _, f := range findings {
		key := displayPath(f.Path)
		if seen[key] {
			continue
		}
		seen[key] = true
		rule, known := ruleFor(f.Path)
		service := ""
		if parts := f.Path.Parts(); len(parts) > 1 && parts[0] == "services" {
			service = strings.ReplaceAll(parts[1], "👻", ".")
		}
		loc := m.src.locate(f.Path)
		switch {
		case known && rule.how == ignored:
			warnings = append(warnings, Warning{Location: loc, Key: key, Service: service, Reason: rule.note})
		case known && rule.how == refused:
			errs = append(errs, &KeyError{Location: loc, Key: key, Service: service, Reason: rule.note})
		default:
			errs = append(errs, &KeyError{Location: loc, Key: key, Service: service, Reason: "hive does not support this key; remove it (docs/stacks.md lists the keys hive takes)"})
		}
	}
	slices.SortStableFunc(warnings, func(a, b Warning) int { return strings.Compare(a.Key, b.Key) })
	return warnings, errs
}

// KeyError is a key of the compose files hive cannot take, or a value it
// refuses.
type KeyError struct {
	// Location is "FILE:LINE" where the key is set, when known.
	Location string
	// Key is the key's path, as services.web.cap_add.
	Key string
	// Service is the service it belongs to, "" for a top-level key.
	Service string
	// Reason says what is wrong and what to do.
	Reason string
}

func (e *KeyError) Error() string {
	loc := ""
	if e.Location != "" {
		loc = e.Location + ": "
	}
	return fmt.Sprintf("%s%s: %s", loc, e.Key, e.Reason)
}

// interpolationErrRE finds the key an interpolation error of compose-go
// names (its error type is not exported): "error while interpolating
// services.web.image: required variable IMAGE is missing a value".
var interpolationErrRE = regexp.MustCompile(`(?:error while interpolating|invalid interpolation format for) ([^\s:]+?)[.:]?(?:\s|$)`)

// locateError returns "FILE:LINE: " for an interpolation error of
// compose-go, which names the key but not the file; "" for any other
// error (compose-go's other errors name the file themselves).
func (s sources) locateError(err error) string {
	m := interpolationErrRE.FindStringSubmatch(err.Error())
	if m == nil {
		return ""
	}
	if loc := s.locate(tree.Path(m[1])); loc != "" {
		return loc + ": "
	}
	return ""
}
