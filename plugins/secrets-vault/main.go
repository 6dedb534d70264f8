// Command secrets-vault is hive's Vault secrets plugin as a stand-alone
// executable. The hive binary serves the same plugin itself (`hive plugin
// serve secrets-vault`); this binary is for hosts that name it by path.
package main

import (
	"github.com/hiveorch/hive/plugins/sdk"
	"github.com/hiveorch/hive/plugins/sdk/secrets"
	"github.com/hiveorch/hive/plugins/secrets-vault/vault"
)

func main() {
	secrets.Serve(vault.New(sdk.Logger(vault.Name)))
}
