package daemon

import (
	"context"
	"os"
	goruntime "runtime"
	"syscall"

	"github.com/hiveorch/hive/core/types"
	"github.com/hiveorch/hive/core/version"
)

// describe reports this node: hostname, platform, capacity and runtime.
func (d *daemon) describe(ctx context.Context) types.NodeDescription {
	host, _ := os.Hostname()
	var mem int64
	var si syscall.Sysinfo_t
	if syscall.Sysinfo(&si) == nil {
		mem = int64(si.Totalram) * int64(si.Unit)
	}
	desc := types.NodeDescription{
		Hostname:  host,
		Platform:  types.Platform{OS: goruntime.GOOS, Architecture: goruntime.GOARCH},
		Resources: types.Resources{NanoCPUs: int64(goruntime.NumCPU()) * 1e9, MemoryBytes: mem},
		Runtime:   types.Plugin{Name: d.cfg.Plugins.Runtime},
		Version:   version.Version,
		DataPath:  types.DataPath{Addr: d.dataPathAddr(), Port: d.cfg.Networks.VXLANPort},
	}
	if info, err := d.runtime.Describe(ctx); err == nil {
		desc.Runtime = types.Plugin{Name: info.Name, Version: info.Version}
	}
	return desc
}
