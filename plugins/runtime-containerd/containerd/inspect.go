package containerd

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/hiveorch/hive/plugins/sdk/runtime"
)

// Inspect returns a container's current state, by ID or name. A missing
// container wraps sdk.ErrNotFound.
func (r *Runtime) Inspect(ctx context.Context, id string) (*runtime.Container, error) {
	eng, err := r.engine()
	if err != nil {
		return nil, err
	}
	rec, err := eng.resolve(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("inspect: %w", err)
	}
	p, err := eng.process(ctx, rec.ID)
	if err != nil {
		return nil, fmt.Errorf("inspect: %w", err)
	}
	return toContainer(rec, p, r.health.state(rec.ID)), nil
}

// List returns the containers, whatever their state, whose labels include
// all of filter.Labels, oldest first, in the same shape as Inspect. It
// costs two calls to containerd whatever the number of containers.
func (r *Runtime) List(ctx context.Context, filter runtime.ListFilter) ([]*runtime.Container, error) {
	eng, err := r.engine()
	if err != nil {
		return nil, err
	}
	var filters []string
	if len(filter.Labels) > 0 {
		filters = append(filters, labelFilter(filter.Labels))
	}
	recs, err := eng.client.ContainerService().List(eng.ctx(ctx), filters...)
	if err != nil {
		return nil, wrapErr(err, "list containers")
	}
	procs, err := eng.processes(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*runtime.Container, 0, len(recs))
	for _, rec := range recs {
		if rec.Labels[labelName] == "" || !hasLabels(rec.Labels, filter.Labels) {
			continue // not the plugin's, or a filter containerd could not apply
		}
		out = append(out, toContainer(rec, procs[rec.ID], r.health.state(rec.ID)))
	}
	slices.SortStableFunc(out, func(a, b *runtime.Container) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
	})
	return out, nil
}
