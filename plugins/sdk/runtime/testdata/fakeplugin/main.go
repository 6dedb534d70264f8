// Command fakeplugin serves runtime.Fake as a runtime plugin; the SDK's
// tests build it and start it as hive would.
//
// With HIVE_TEST_SPAWN_PLUGIN=1 it instead starts itself as a plugin
// child, with the handshake cookie, waits for the child's handshake line
// (it is serving), prints the child's PID and waits: a test kills this
// parent to check that the orphaned plugin exits by itself.
package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"

	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

const spawnEnv = "HIVE_TEST_SPAWN_PLUGIN"

func main() {
	if os.Getenv(spawnEnv) == "1" {
		spawn()
		return
	}
	f := runtime.NewFake()
	f.AllowAnyImage(true)
	sdk.Logger("fakeplugin").Info("serving the fake runtime", "answer", 42)
	runtime.Serve(f)
}

func spawn() {
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, spawnEnv+"=") })
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(env, sdk.Handshake.MagicCookieKey+"="+sdk.Handshake.MagicCookieValue)
	out, err := cmd.StdoutPipe()
	if err == nil {
		err = cmd.Start()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fakeplugin: spawn:", err)
		os.Exit(1)
	}
	if _, err := bufio.NewReader(out).ReadString('\n'); err != nil {
		fmt.Fprintln(os.Stderr, "fakeplugin: read the child's handshake:", err)
		os.Exit(1)
	}
	fmt.Println(cmd.Process.Pid)
	_ = cmd.Wait()
}
