package sim

import (
	"github.com/hiveorch/hive/core/store"
	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

type (
	storeReadTx      = store.ReadTx
	runtimeContainer = runtime.Container
)
