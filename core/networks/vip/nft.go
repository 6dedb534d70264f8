package vip

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"slices"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"

	"github.com/hiveorch/hive/core/types"
)

// TableName is the name of hive's nftables table (family ip) in a task's
// network namespace. Nothing else in the namespace is touched.
const TableName = "hive-vip"

// Names inside the table.
const (
	dnatChain   = "dnat"
	rejectChain = "reject"
	vipSet      = "vips"
	mapPrefix   = "backends"
)

// icmpPortUnreachable is the code of ICMP destination unreachable that a
// UDP socket reports as ECONNREFUSED.
const icmpPortUnreachable = 3

// l4proto is the IP protocol number of each protocol a Key may name.
var l4proto = map[types.Protocol]byte{
	types.ProtocolTCP: unix.IPPROTO_TCP,
	types.ProtocolUDP: unix.IPPROTO_UDP,
}

// The header fields a rule matches, as (base, offset, length) of a
// payload load.
var (
	fieldDaddr = expr.Payload{Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4}
	fieldDport = expr.Payload{Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2}
)

// Apply programs r into the network namespace at netnsPath (a
// /proc/PID/ns/net or a bind mount such as /run/netns/NAME), replacing
// whatever hive's table held, in one netlink batch the kernel commits
// atomically. It is idempotent: when the kernel already holds r, it
// changes nothing (so the round-robin counters go on where they were).
// Calls for different namespaces may run concurrently; for one namespace
// the last call wins.
func Apply(netnsPath string, r Rules) error {
	for k, backends := range r {
		err := k.validate()
		for _, b := range backends {
			if !b.Is4() {
				err = errors.Join(err, fmt.Errorf("%s: backend %s is not an IPv4 address", k, b))
			}
		}
		if err != nil {
			return fmt.Errorf("program virtual IPs in %s: %w", netnsPath, err)
		}
	}
	return inNamespace(netnsPath, func(c *nftables.Conn) error {
		if cur, ok, err := current(c); err == nil && ok && cur.Equal(r) {
			return nil
		}
		if err := queue(c, r); err != nil {
			return err
		}
		if err := c.Flush(); err != nil {
			return fmt.Errorf("program virtual IPs: %w", err)
		}
		return nil
	})
}

// Remove deletes hive's table from the network namespace at netnsPath,
// if it is there.
func Remove(netnsPath string) error {
	return inNamespace(netnsPath, func(c *nftables.Conn) error {
		// Adding first makes the delete succeed when there is no table,
		// in the same transaction.
		c.AddTable(newTable())
		c.DelTable(newTable())
		if err := c.Flush(); err != nil {
			return fmt.Errorf("remove table %s: %w", TableName, err)
		}
		return nil
	})
}

// Current reads back the rules programmed in the network namespace at
// netnsPath: empty when hive's table is not there. It fails when the
// table holds something Apply would not have put there.
func Current(netnsPath string) (Rules, error) {
	var r Rules
	err := inNamespace(netnsPath, func(c *nftables.Conn) error {
		var err error
		r, _, err = current(c)
		return err
	})
	return r, err
}

// inNamespace runs fn with an nftables connection whose netlink sockets
// are opened in the network namespace at netnsPath; no thread of the
// process changes namespace.
func inNamespace(netnsPath string, fn func(*nftables.Conn) error) error {
	fd, err := unix.Open(netnsPath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open network namespace %s: %w", netnsPath, err)
	}
	defer unix.Close(fd)
	c, err := nftables.New(nftables.WithNetNSFd(fd))
	if err != nil {
		return fmt.Errorf("nftables in %s: %w", netnsPath, err)
	}
	if err := fn(c); err != nil {
		return fmt.Errorf("virtual IPs in %s: %w", netnsPath, err)
	}
	return nil
}

func newTable() *nftables.Table {
	return &nftables.Table{Family: nftables.TableFamilyIPv4, Name: TableName}
}

// validate reports a key Apply cannot program.
func (k Key) validate() error {
	if !k.VIP.Is4() {
		return fmt.Errorf("virtual IP %s: not an IPv4 address", k.VIP)
	}
	if _, ok := l4proto[k.Protocol]; k.Port != 0 && !ok {
		return fmt.Errorf("%s: unknown protocol %q", k, k.Protocol)
	}
	if k.Port == 0 && k.Protocol != "" {
		return fmt.Errorf("%s: protocol %s without a port", k, k.Protocol)
	}
	return nil
}

// queue adds to c's batch the messages that replace hive's table with
// one holding r.
func queue(c *nftables.Conn, r Rules) error {
	t := newTable()
	c.AddTable(t)
	c.DelTable(t)
	c.AddTable(t)
	dnat := c.AddChain(&nftables.Chain{
		Name: dnatChain, Table: t, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityNATDest,
	})
	reject := c.AddChain(&nftables.Chain{
		Name: rejectChain, Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityFilter,
	})
	// Set IDs only need to be unique in the batch; giving them keeps
	// nftables from taking one from its unsynchronized global counter.
	var vips []nftables.SetElement
	keys := r.keys()
	for i, k := range keys {
		backends := r[k]
		if i == 0 || k.VIP != keys[i-1].VIP {
			vips = append(vips, nftables.SetElement{Key: k.VIP.AsSlice()})
		}
		action := []expr.Any{&expr.Verdict{Kind: expr.VerdictAccept}}
		comment := k.String() + ": no backend"
		if len(backends) > 0 {
			m := &nftables.Set{
				Table: t, ID: uint32(i + 2), Name: fmt.Sprintf("%s%d", mapPrefix, i), IsMap: true,
				KeyType: nftables.TypeInteger, DataType: nftables.TypeIPAddr,
				KeyByteOrder: binaryutil.NativeEndian, Comment: k.String(),
			}
			elems := make([]nftables.SetElement, len(backends))
			for j, b := range backends {
				elems[j] = nftables.SetElement{Key: binaryutil.NativeEndian.PutUint32(uint32(j)), Val: b.AsSlice()}
			}
			if err := c.AddSet(m, elems); err != nil {
				return fmt.Errorf("map for %s: %w", k, err)
			}
			action = []expr.Any{
				&expr.Numgen{Register: 1, Modulus: uint32(len(backends)), Type: unix.NFT_NG_INCREMENTAL},
				&expr.Lookup{SourceRegister: 1, DestRegister: 1, IsDestRegSet: true, SetName: m.Name, SetID: m.ID},
				dnatToRegister(),
			}
			comment = fmt.Sprintf("%s: round robin over %d", k, len(backends))
		}
		c.AddRule(&nftables.Rule{Table: t, Chain: dnat, Exprs: append(k.match(), action...), UserData: note(comment)})
	}
	if len(vips) == 0 {
		return nil
	}
	set := &nftables.Set{Table: t, ID: 1, Name: vipSet, KeyType: nftables.TypeIPAddr, Comment: "hive virtual IPs"}
	if err := c.AddSet(set, vips); err != nil {
		return fmt.Errorf("set of virtual IPs: %w", err)
	}
	for _, e := range refusals(set) {
		c.AddRule(&nftables.Rule{Table: t, Chain: reject, Exprs: e, UserData: note("refuse what no backend takes")})
	}
	return nil
}

// refusals are the rules of the reject chain: what is still addressed to
// a virtual IP after the nat chain gets a TCP reset, or an ICMP port
// unreachable.
func refusals(vips *nftables.Set) [][]expr.Any {
	inSet := func() []expr.Any {
		daddr := fieldDaddr
		daddr.DestRegister = 1
		return []expr.Any{&daddr, &expr.Lookup{SourceRegister: 1, SetName: vips.Name, SetID: vips.ID}}
	}
	return [][]expr.Any{
		append(inSet(),
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_TCP}},
			&expr.Reject{Type: unix.NFT_REJECT_TCP_RST}),
		append(inSet(), &expr.Reject{Type: unix.NFT_REJECT_ICMP_UNREACH, Code: icmpPortUnreachable}),
	}
}

// match returns the expressions that match a packet to k.
func (k Key) match() []expr.Any {
	daddr := fieldDaddr
	daddr.DestRegister = 1
	e := []expr.Any{&daddr, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: k.VIP.AsSlice()}}
	if k.Port == 0 {
		return e
	}
	dport := fieldDport
	dport.DestRegister = 1
	return append(e,
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{l4proto[k.Protocol]}},
		&dport,
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(k.Port)},
	)
}

// dnatToRegister rewrites the destination address to the one in
// register 1, and nothing else.
func dnatToRegister() *expr.NAT {
	return &expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1}
}

// note is a rule's user data: a comment, as nft shows it.
func note(comment string) []byte {
	return userdata.AppendString(nil, userdata.TypeComment, comment)
}

// current reads hive's table through c: its rules, and whether it is
// there at all.
func current(c *nftables.Conn) (Rules, bool, error) {
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return nil, false, fmt.Errorf("list tables: %w", err)
	}
	if !slices.ContainsFunc(tables, func(t *nftables.Table) bool { return t.Name == TableName }) {
		return Rules{}, false, nil
	}
	t := newTable()
	dnat, err := c.GetRules(t, &nftables.Chain{Name: dnatChain, Table: t})
	if err != nil {
		return nil, true, fmt.Errorf("read chain %s: %w", dnatChain, err)
	}
	reject, err := c.GetRules(t, &nftables.Chain{Name: rejectChain, Table: t})
	if err != nil {
		return nil, true, fmt.Errorf("read chain %s: %w", rejectChain, err)
	}
	sets, err := c.GetSets(t)
	if err != nil {
		return nil, true, fmt.Errorf("read sets: %w", err)
	}
	elems := make(map[string][]nftables.SetElement, len(sets))
	for _, s := range sets {
		if elems[s.Name], err = c.GetSetElements(s); err != nil {
			return nil, true, fmt.Errorf("read set %s: %w", s.Name, err)
		}
	}
	r, err := parse(dnat, reject, elems)
	return r, true, err
}

// errForeign is what parse returns for a table Apply did not write.
var errForeign = errors.New("not as hive programs it")

// parse turns the rules of the two chains and the elements of the table's
// sets, by name, back into Rules.
func parse(dnat, reject []*nftables.Rule, elems map[string][]nftables.SetElement) (Rules, error) {
	r := make(Rules)
	vips := make(map[netip.Addr]bool)
	for _, rule := range dnat {
		k, backends, err := parseRule(rule.Exprs, elems)
		if err != nil {
			return nil, fmt.Errorf("table %s, chain %s, rule %d: %w", TableName, dnatChain, rule.Handle, err)
		}
		if _, dup := r[k]; dup {
			return nil, fmt.Errorf("table %s: %s twice: %w", TableName, k, errForeign)
		}
		r[k] = backends
		vips[k.VIP] = true
	}
	// The reject chain must refuse exactly the virtual IPs.
	var inSet []netip.Addr
	for _, e := range elems[vipSet] {
		a, ok := netip.AddrFromSlice(e.Key)
		if !ok || !vips[a] {
			return nil, fmt.Errorf("table %s: set %s holds %v: %w", TableName, vipSet, e.Key, errForeign)
		}
		inSet = append(inSet, a)
	}
	want := refusals(&nftables.Set{Name: vipSet})
	if len(vips) == 0 {
		want = nil
	}
	if len(inSet) != len(vips) || len(reject) != len(want) {
		return nil, fmt.Errorf("table %s: chain %s does not refuse the virtual IPs: %w", TableName, rejectChain, errForeign)
	}
	for i, rule := range reject {
		if !sameExprs(rule.Exprs, want[i]) {
			return nil, fmt.Errorf("table %s, chain %s, rule %d: %w", TableName, rejectChain, rule.Handle, errForeign)
		}
	}
	return r, nil
}

// parseRule reads one rule of the nat chain: the key it matches and the
// backends it sends to (none for a rule that only accepts).
func parseRule(exprs []expr.Any, elems map[string][]nftables.SetElement) (Key, []netip.Addr, error) {
	var k Key
	var loaded any // what register 1 holds: a field, or the meta key
	var modulus uint32
	for i, e := range exprs {
		switch e := e.(type) {
		case *expr.Payload:
			loaded = expr.Payload{Base: e.Base, Offset: e.Offset, Len: e.Len}
		case *expr.Meta:
			loaded = e.Key
		case *expr.Cmp:
			if e.Op != expr.CmpOpEq || e.Register != 1 {
				return k, nil, fmt.Errorf("comparison %v: %w", e.Op, errForeign)
			}
			switch {
			case loaded == fieldDaddr && len(e.Data) == 4:
				k.VIP = netip.AddrFrom4([4]byte(e.Data))
			case loaded == expr.MetaKeyL4PROTO && len(e.Data) == 1:
				for p, n := range l4proto {
					if n == e.Data[0] {
						k.Protocol = p
					}
				}
				if k.Protocol == "" {
					return k, nil, fmt.Errorf("protocol %d: %w", e.Data[0], errForeign)
				}
			case loaded == fieldDport && len(e.Data) == 2:
				k.Port = binaryutil.BigEndian.Uint16(e.Data)
			default:
				return k, nil, fmt.Errorf("match on %v: %w", loaded, errForeign)
			}
		case *expr.Verdict:
			if e.Kind != expr.VerdictAccept || i != len(exprs)-1 {
				return k, nil, fmt.Errorf("verdict %v: %w", e.Kind, errForeign)
			}
			return k, []netip.Addr{}, k.parsed()
		case *expr.Numgen:
			if e.Type != unix.NFT_NG_INCREMENTAL || e.Offset != 0 {
				return k, nil, fmt.Errorf("numgen of type %d: %w", e.Type, errForeign)
			}
			modulus = e.Modulus
		case *expr.Lookup:
			backends, err := parseMap(elems, e.SetName, modulus)
			if err != nil {
				return k, nil, err
			}
			if !sameExprs(exprs[i+1:], []expr.Any{dnatToRegister()}) {
				return k, nil, fmt.Errorf("not a destination NAT to the map's address: %w", errForeign)
			}
			return k, backends, k.parsed()
		default:
			return k, nil, fmt.Errorf("expression %T: %w", e, errForeign)
		}
	}
	return k, nil, fmt.Errorf("no action: %w", errForeign)
}

// parsed checks a key read back from the kernel.
func (k Key) parsed() error {
	if err := k.validate(); err != nil {
		return fmt.Errorf("%w: %w", err, errForeign)
	}
	if (k.Protocol == "") != (k.Port == 0) {
		return fmt.Errorf("%s: protocol without a port or port without a protocol: %w", k, errForeign)
	}
	return nil
}

// parseMap returns the backends of a map of index → address, by index;
// the indexes must be 0 … modulus-1, each once.
func parseMap(elems map[string][]nftables.SetElement, name string, modulus uint32) ([]netip.Addr, error) {
	es, ok := elems[name]
	if !ok || modulus == 0 || uint32(len(es)) != modulus {
		return nil, fmt.Errorf("map %s: %d elements for numgen mod %d: %w", name, len(es), modulus, errForeign)
	}
	byIndex := make([]netip.Addr, modulus)
	for _, e := range es {
		if len(e.Key) != 4 || len(e.Val) != 4 {
			return nil, fmt.Errorf("map %s: element %v: %w", name, e.Key, errForeign)
		}
		i := binaryutil.NativeEndian.Uint32(e.Key)
		if i >= modulus || byIndex[i].IsValid() {
			return nil, fmt.Errorf("map %s: index %d: %w", name, i, errForeign)
		}
		byIndex[i] = netip.AddrFrom4([4]byte(e.Val))
	}
	slices.SortFunc(byIndex, netip.Addr.Compare)
	return slices.Compact(byIndex), nil
}

// sameExprs reports whether two expression lists do the same, ignoring
// what the kernel fills in or leaves out: set IDs, which only mean
// something inside one batch, and a NAT's upper address register, the
// lower one when not given.
func sameExprs(a, b []expr.Any) bool {
	return slices.EqualFunc(a, b, func(x, y expr.Any) bool { return reflect.DeepEqual(normal(x), normal(y)) })
}

func normal(e expr.Any) expr.Any {
	switch e := e.(type) {
	case *expr.Lookup:
		c := *e
		c.SetID = 0
		return &c
	case *expr.NAT:
		c := *e
		c.RegAddrMax = cmp.Or(c.RegAddrMax, c.RegAddrMin)
		return &c
	}
	return e
}
