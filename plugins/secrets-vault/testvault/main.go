// Command vault is the HashiCorp Vault server and CLI, built from the Go module
// proxy so that hive's secrets-vault plugin can be tested against a real Vault.
// It is its own module (see go.mod) and not part of hive's build.
package main

import (
	"os"

	"github.com/hashicorp/vault/command"
)

func main() {
	os.Exit(command.Run(os.Args[1:]))
}
