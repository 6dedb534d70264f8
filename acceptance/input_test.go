//go:build acceptance

package acceptance

import (
	"os/exec"
	"strings"
	"testing"
)

// TestBadInputIsRefusedWithAMessageThatSaysWhatToFix runs each mistake
// through the real CLI and daemon: the command must fail, say what is wrong,
// and leave nothing behind.
func TestBadInputIsRefusedWithAMessageThatSaysWhatToFix(t *testing.T) {
	n := startHive(t)
	n.must("service", "create", "-d", "--name", "taken", imageV1)

	tests := []struct {
		name string
		args []string
		want string
	}{
		{"malformed image reference", []string{"service", "create", "-d", "--name", "bad1", "hive-test/web:v1:extra"}, `invalid image reference "hive-test/web:v1:extra"`},
		{"uppercase image reference", []string{"service", "create", "-d", "--name", "bad1", "Hive-Test/web:v1"}, "repository name must be lowercase"},
		{"negative replicas", []string{"service", "create", "-d", "--name", "bad2", "--replicas", "-1", imageV1}, "invalid --replicas -1: must be 0 or more"},
		{"unknown constraint key", []string{"service", "create", "-d", "--name", "bad3", "--constraint", "node.zone==a", imageV1}, `unknown key "node.zone"`},
		{"duplicate service name", []string{"service", "create", "-d", "--name", "taken", imageV1}, `service name "taken" is already in use`},
		{"malformed mount", []string{"service", "create", "-d", "--name", "bad4", "--mount", "type=volume,soure=data,target=/data", imageV1}, `did you mean "source"?`},
		{"mount without target", []string{"service", "create", "-d", "--name", "bad5", "--mount", "type=volume,source=data", imageV1}, "target"},
		{"bad publish", []string{"service", "create", "-d", "--name", "bad6", "-p", "80:http", imageV1}, "publish"},
		{"bad memory", []string{"service", "create", "-d", "--name", "bad7", "--limit-memory", "lots", imageV1}, "limit-memory"},
		{"global with replicas", []string{"service", "create", "-d", "--name", "bad8", "--mode", "global", "--replicas", "2", imageV1}, "replicas"},
		{"unknown service", []string{"service", "scale", "nosuch=2"}, "not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, err := n.run(tt.args...)
			if err == nil {
				t.Fatalf("hive %s succeeded", strings.Join(tt.args, " "))
			}
			if !strings.Contains(stderr, tt.want) {
				t.Fatalf("stderr %q does not say %q", stderr, tt.want)
			}
		})
	}
	ls := strings.Fields(n.must("service", "ls", "--format", "json"))
	if got := strings.Count(strings.Join(ls, " "), `"name":`); got != 1 {
		t.Fatalf("service ls shows %d services after the refused commands, want only 'taken':\n%s", got, strings.Join(ls, " "))
	}
}

func TestAnUnreachableHostIsAClearError(t *testing.T) {
	cmd := exec.Command(hiveBin, "-H", "unix:///tmp/hive-acc-nothing-here/hive.sock", "service", "ls")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("service ls against nothing succeeded: %s", out)
	}
	for _, want := range []string{"cannot reach hive at unix:///tmp/hive-acc-nothing-here/hive.sock", "hive up", "-H"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output %q does not mention %q", out, want)
		}
	}
}

func TestAnImageThatCannotBeHadIsRejectedWithTheReason(t *testing.T) {
	n := startHive(t)
	out, _, err := n.run("service", "create", "--name", "ghost", "--restart-condition", "none", "hive-test/no-such-image:1")
	if err == nil {
		t.Fatalf("create of a missing image converged:\n%s", out)
	}
	if !strings.Contains(err.Error(), "image not found: hive-test/no-such-image:1") {
		t.Fatalf("create does not say the image was not found: %v", err)
	}
	ps := n.must("service", "ps", "--no-trunc", "ghost")
	if !strings.Contains(ps, "Rejected") || !strings.Contains(ps, "image not found: hive-test/no-such-image:1") {
		t.Fatalf("service ps does not show the rejection:\n%s", ps)
	}
}
