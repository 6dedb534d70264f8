package stack

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/compose-spec/compose-go/v2/tree"

	"github.com/hiveorch/hive/internal/suggest"
)

// compose-go's load errors name the file but, for all but YAML syntax, not
// the line, and say what is wrong in the schema's words ("services.web.imagee
// false schema"). explain rewrites the ones it knows as hive's other errors
// read: FILE:LINE: KEY: what is wrong and what to do. Its error types are
// not exported, so the messages are matched.
var (
	// failed to parse FILE: yaml: [while parsing X at line L, column C: ]line L, column C: MSG
	yamlErrRE = regexp.MustCompile(`^failed to parse (.+?): yaml: (?:(.*?) at line \d+, column \d+: )?line (\d+)(?:, column (\d+))?: (.*)$`)
	// validating FILE: PATH additional properties 'KEY' not allowed
	extraKeyRE = regexp.MustCompile(`^validating (.+?): (\S*) additional properties? '([^']+)'.* not allowed$`)
	// validating FILE: PATH false schema
	falseSchemaRE = regexp.MustCompile(`^validating (.+?): (\S+) false schema$`)
	// validating FILE: PATH must be a TYPE
	wrongTypeRE = regexp.MustCompile(`^validating (.+?): (\S+) must be (?:a |an )?(.+)$`)
	// error while interpolating PATH: failed to cast to expected type: strconv.X: parsing "V": invalid syntax
	castErrRE = regexp.MustCompile(`^error while interpolating (\S+?): failed to cast to expected type: strconv\.(\w+): parsing "(.*)": invalid syntax$`)
)

// explain returns err in hive's words when it is one of compose-go's
// errors it knows, else err with the location locateError finds.
func (s sources) explain(err error) error {
	msg := err.Error()
	if m := yamlErrRE.FindStringSubmatch(msg); m != nil {
		what := m[5]
		if m[2] != "" {
			what += " (" + m[2] + ")"
		}
		col := ""
		if m[4] != "" {
			col = " at column " + m[4]
		}
		return fmt.Errorf("%s:%s: YAML syntax error%s: %s: check the indentation and brackets there", m[1], m[3], col, what)
	}
	if m := extraKeyRE.FindStringSubmatch(msg); m != nil {
		return s.unknownKey(m[1], strings.TrimPrefix(m[2]+"."+m[3], "."))
	}
	if m := falseSchemaRE.FindStringSubmatch(msg); m != nil {
		return s.unknownKey(m[1], m[2])
	}
	if m := wrongTypeRE.FindStringSubmatch(msg); m != nil {
		return fmt.Errorf("%s%s: must be %s: %s", s.locateIn(m[1], tree.Path(m[2])), m[2], article(m[3]), typeHint(m[3]))
	}
	if m := castErrRE.FindStringSubmatch(msg); m != nil {
		what := "a number"
		switch m[2] {
		case "ParseBool":
			what = "true or false"
		case "Atoi", "ParseInt", "ParseUint":
			what = "a whole number"
		}
		return fmt.Errorf("%s%s: %q is not %s: write %s (after ${VAR} interpolation)", s.locateError(err), m[1], m[3], what, what)
	}
	return fmt.Errorf("%s%w", s.locateError(err), err)
}

// unknownKey is the error for a key that is not compose's, with the key
// it most likely means.
func (s sources) unknownKey(file, key string) error {
	p := tree.Path(key)
	parts := p.Parts()
	hint := ""
	if len(parts) > 0 {
		hint = suggest.DidYouMean(parts[len(parts)-1], siblingKeys(parts[:len(parts)-1])...)
	}
	return fmt.Errorf("%s%s: not a compose key%s: remove it or correct its name (docs/stacks.md lists every key)", s.locateIn(file, p), key, hint)
}

// siblingKeys returns the last part of every known key whose parent
// matches parent: the keys that could have been meant.
func siblingKeys(parent []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range keyRules {
		rp := strings.Split(r.path, ".")
		if len(rp) != len(parent)+1 || !matchParts(rp[:len(parent)], parent) {
			continue
		}
		if k := rp[len(parent)]; k != "*" && k != "[]" && !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

func matchParts(pattern, parts []string) bool {
	for i, p := range pattern {
		if p != "*" && p != "[]" && p != parts[i] {
			return false
		}
	}
	return true
}

// locateIn is locate in one file (the one compose-go names), as
// "FILE:LINE: ", or "FILE: " when the key is not found in it.
func (s sources) locateIn(file string, p tree.Path) string {
	for _, src := range s {
		// Load gives compose-go absolute paths, which its errors name.
		if src.file == file {
			if loc := (sources{src}).locate(p); loc != "" {
				return loc + ": "
			}
		}
	}
	return file + ": "
}

// article puts "a" or "an" before the schema's type name.
func article(t string) string {
	if t == "" {
		return t
	}
	if strings.ContainsRune("aeiou", rune(t[0])) {
		return "an " + t
	}
	return "a " + t
}

// typeHint says how to write a value of the schema's type.
func typeHint(t string) string {
	switch {
	case strings.HasPrefix(t, "array"):
		return "write a list, as [a, b] or one '- item' per line"
	case strings.HasPrefix(t, "integer"):
		return "write a whole number, as 3"
	case strings.HasPrefix(t, "boolean"):
		return "write true or false"
	case strings.HasPrefix(t, "object"):
		return "write a mapping of keys to values"
	case strings.HasPrefix(t, "number"):
		return "write a number"
	}
	return "correct the value"
}
