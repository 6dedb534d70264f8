// Package vip balances connections to a service's virtual IP across its
// tasks, in the kernel: nftables rules in each task's network namespace
// rewrite the destination of a new connection to a VIP to one of the
// service's backends. It is item 5 of hive's networks (issue 12), the
// data plane that makes the VIP the DNS resolver hands out (core/networks/dns)
// lead somewhere. Being in the kernel, it keeps working while hive
// restarts; hive reads back what is programmed (Current) and reconciles.
//
// It has two parts, each usable alone:
//
//   - Rules, computed by Build from one consistent read of the services,
//     tasks and networks for one task: for each VIP it may reach and each
//     target port of the service, the addresses of the service's backends
//     there. It does no I/O.
//   - Apply, Current and Remove program, read back and delete the Rules of
//     one network namespace.
//
// # What the kernel holds
//
// One table, ip hive-vip, owned by hive and replaced as a whole (nft list
// shows it about so):
//
//	table ip hive-vip {
//		map backends0 {
//			type integer : ipv4_addr
//			elements = { 0 : 10.0.1.5, 1 : 10.0.1.7 }
//		}
//		set vips {
//			type ipv4_addr
//			elements = { 10.0.1.2, 10.0.1.9 }
//		}
//		chain dnat {
//			type nat hook output priority -100; policy accept;
//			ip daddr 10.0.1.2 tcp dport 80 dnat to numgen inc mod 2 map @backends0
//			ip daddr 10.0.1.9 tcp dport 80 accept comment "10.0.1.9 80/tcp: no backend"
//		}
//		chain reject {
//			type filter hook output priority filter; policy accept;
//			ip daddr @vips meta l4proto tcp reject with tcp reset
//			ip daddr @vips reject with icmp port-unreachable
//		}
//	}
//
// The hook is output, not prerouting: the connections start inside the
// namespace. Only the first packet of a connection goes through a nat
// chain; conntrack keeps the chosen backend for the rest of it, so a
// connection made before the set changed stays where it is while every new
// one follows the new set. numgen inc is one counter per rule, so
// consecutive connections to a VIP port take the backends in turn. The
// rewrite changes only the destination address (the port is the target
// port the task listens on), never the source: the backend sees the
// client's own address. A packet still addressed to a VIP after the nat
// chain (a port the service does not publish, or no backend) is refused at
// once (a TCP reset, an ICMP port unreachable) rather than left to time
// out.
//
// Apply sends the whole table in one netlink batch (add table, delete
// table, add table and all its contents), which the kernel commits as one
// transaction: no packet sees a half-built ruleset. Current reads the
// rules back from the kernel's own expressions and map elements, so it
// reports what the kernel does, not what hive meant; the rules' comments
// are for a human running nft list ruleset.
//
// The kernel needs nf_tables with the nat, numgen, lookup and reject
// expressions (nft_nat, nft_numgen, nft_reject_ipv4) and conntrack, as
// every distribution kernel has; IPVS is not used.
package vip
