package scheduler

import (
	"fmt"
	"strings"
)

// Constraint is one parsed placement constraint, such as
// node.labels.zone==east.
type Constraint struct {
	// Key is "node.id", "node.hostname", "node.role", "node.platform.os",
	// "node.platform.arch" or "node.labels.NAME".
	Key string
	// Equal is true for ==, false for !=.
	Equal bool
	Value string
}

func (c Constraint) String() string {
	op := "!="
	if c.Equal {
		op = "=="
	}
	return c.Key + op + c.Value
}

// ConstraintError is the error of a constraint that does not parse.
type ConstraintError struct {
	Expr string
	// Reason says what is wrong and what to write instead.
	Reason string
}

func (e *ConstraintError) Error() string {
	return fmt.Sprintf("invalid constraint %q: %s", e.Expr, e.Reason)
}

var constraintKeys = []string{"node.id", "node.hostname", "node.role", "node.platform.os", "node.platform.arch"}

// ParseConstraint parses "KEY==VALUE" or "KEY!=VALUE". Spaces around the
// operator are allowed. An unknown key is an error that lists the known
// ones. Its errors are *ConstraintError.
func ParseConstraint(s string) (Constraint, error) {
	var c Constraint
	bad := func(format string, args ...any) (Constraint, error) {
		return c, &ConstraintError{Expr: s, Reason: fmt.Sprintf(format, args...)}
	}
	var key, value string
	if i := strings.Index(s, "=="); i >= 0 {
		key, value, c.Equal = s[:i], s[i+2:], true
	} else if i := strings.Index(s, "!="); i >= 0 {
		key, value = s[:i], s[i+2:]
	} else {
		return bad("want KEY==VALUE or KEY!=VALUE")
	}
	c.Key, c.Value = strings.TrimSpace(key), strings.TrimSpace(value)
	if c.Value == "" || strings.ContainsAny(c.Value, "=!") {
		return bad("the value must be non-empty and hold no '=' or '!'")
	}
	if strings.HasPrefix(c.Key, "node.labels.") {
		if len(c.Key) == len("node.labels.") {
			return bad("node.labels needs a label name, as in node.labels.zone==east")
		}
		return c, nil
	}
	for _, k := range constraintKeys {
		if c.Key == k {
			if k == "node.role" && c.Value != "manager" && c.Value != "worker" {
				return bad("node.role is manager or worker")
			}
			return c, nil
		}
	}
	return bad("unknown key %q (known: %s, node.labels.NAME)", c.Key, strings.Join(constraintKeys, ", "))
}

// ParseConstraints parses every expression, stopping at the first error.
func ParseConstraints(exprs []string) ([]Constraint, error) {
	out := make([]Constraint, 0, len(exprs))
	for _, e := range exprs {
		c, err := ParseConstraint(e)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// Match reports whether the node satisfies the constraint. Values compare
// case-insensitively except label values, which compare exactly (as in
// Swarm). A != constraint on a label the node lacks holds.
func (c Constraint) Match(n *Node) bool {
	var got string
	var ok bool = true
	fold := true
	switch {
	case c.Key == "node.id":
		got = n.ID
	case c.Key == "node.hostname":
		got = n.Hostname
	case c.Key == "node.role":
		got = n.Role
	case c.Key == "node.platform.os":
		got = n.Platform.OS
	case c.Key == "node.platform.arch":
		got = n.Platform.Architecture
	case strings.HasPrefix(c.Key, "node.labels."):
		got, ok = n.Labels[strings.TrimPrefix(c.Key, "node.labels.")]
		fold = false
	default:
		return false
	}
	eq := ok && (got == c.Value || (fold && strings.EqualFold(got, c.Value)))
	return eq == c.Equal
}
