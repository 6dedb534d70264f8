package mesh

import "context"

// RunRoutes applies each routing table that arrives on routes to m, until
// ctx is done or routes is closed; then it returns nil. It is how every
// node, managers included, follows the routes its session with the leader
// delivers. When several tables are queued only the newest is
// applied: each is the whole table, so the older ones are moot.
//
// It does not close m.
func RunRoutes(ctx context.Context, m *Mesh, routes <-chan map[PortKey]Route) error {
	for {
		var table map[PortKey]Route
		select {
		case <-ctx.Done():
			return nil
		case t, ok := <-routes:
			if !ok {
				return nil
			}
			table = t
		}
		for more := true; more; {
			select {
			case t, ok := <-routes:
				if !ok {
					m.Apply(table)
					return nil
				}
				table = t
			default:
				more = false
			}
		}
		m.Apply(table)
	}
}
