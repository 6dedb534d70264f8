package scheduler

import "github.com/hiveorch/hive/plugins/sdk/internal/pb"

// Conversions between the scheduler's Go types and their wire form.

func resourcesToPB(r Resources) *pb.SchedulerResources {
	return &pb.SchedulerResources{NanoCpus: r.NanoCPUs, MemoryBytes: r.MemoryBytes}
}

func resourcesFromPB(r *pb.SchedulerResources) Resources {
	return Resources{NanoCPUs: r.GetNanoCpus(), MemoryBytes: r.GetMemoryBytes()}
}

func portsToPB(ports []HostPort) []*pb.HostPort {
	if len(ports) == 0 {
		return nil
	}
	out := make([]*pb.HostPort, len(ports))
	for i, p := range ports {
		out[i] = &pb.HostPort{Protocol: p.Protocol, Port: p.Port}
	}
	return out
}

func portsFromPB(ports []*pb.HostPort) []HostPort {
	if len(ports) == 0 {
		return nil
	}
	out := make([]HostPort, len(ports))
	for i, p := range ports {
		out[i] = HostPort{Protocol: p.GetProtocol(), Port: p.GetPort()}
	}
	return out
}

func requestToPB(r *Request) *pb.ScheduleRequest {
	out := &pb.ScheduleRequest{
		Nodes: make([]*pb.Node, len(r.Nodes)),
		Tasks: make([]*pb.Task, len(r.Tasks)),
	}
	for i, n := range r.Nodes {
		pn := &pb.Node{
			Id:           n.ID,
			Hostname:     n.Hostname,
			Role:         n.Role,
			Labels:       n.Labels,
			Availability: n.Availability,
			Ready:        n.Ready,
			Platform:     &pb.Platform{Os: n.Platform.OS, Architecture: n.Platform.Architecture},
			Resources:    resourcesToPB(n.Resources),
		}
		for _, t := range n.Tasks {
			pn.Tasks = append(pn.Tasks, &pb.NodeTask{
				ServiceId:    t.ServiceID,
				Reservations: resourcesToPB(t.Reservations),
				HostPorts:    portsToPB(t.HostPorts),
			})
		}
		out.Nodes[i] = pn
	}
	for i, t := range r.Tasks {
		out.Tasks[i] = &pb.Task{
			Id:           t.ID,
			ServiceId:    t.ServiceID,
			Constraints:  t.Constraints,
			Reservations: resourcesToPB(t.Reservations),
			HostPorts:    portsToPB(t.HostPorts),
			NodeId:       t.NodeID,
		}
	}
	return out
}

func requestFromPB(r *pb.ScheduleRequest) *Request {
	out := &Request{}
	if n := len(r.GetNodes()); n > 0 {
		out.Nodes = make([]Node, n)
	}
	for i, pn := range r.GetNodes() {
		n := Node{
			ID:           pn.GetId(),
			Hostname:     pn.GetHostname(),
			Role:         pn.GetRole(),
			Labels:       pn.GetLabels(),
			Availability: pn.GetAvailability(),
			Ready:        pn.GetReady(),
			Platform:     Platform{OS: pn.GetPlatform().GetOs(), Architecture: pn.GetPlatform().GetArchitecture()},
			Resources:    resourcesFromPB(pn.GetResources()),
		}
		for _, pt := range pn.GetTasks() {
			n.Tasks = append(n.Tasks, NodeTask{
				ServiceID:    pt.GetServiceId(),
				Reservations: resourcesFromPB(pt.GetReservations()),
				HostPorts:    portsFromPB(pt.GetHostPorts()),
			})
		}
		out.Nodes[i] = n
	}
	if n := len(r.GetTasks()); n > 0 {
		out.Tasks = make([]Task, n)
	}
	for i, pt := range r.GetTasks() {
		out.Tasks[i] = Task{
			ID:           pt.GetId(),
			ServiceID:    pt.GetServiceId(),
			Constraints:  pt.GetConstraints(),
			Reservations: resourcesFromPB(pt.GetReservations()),
			HostPorts:    portsFromPB(pt.GetHostPorts()),
			NodeID:       pt.GetNodeId(),
		}
	}
	return out
}

func responseToPB(r *Response) *pb.ScheduleResponse {
	out := &pb.ScheduleResponse{Decisions: make([]*pb.Decision, len(r.Decisions))}
	for i, d := range r.Decisions {
		out.Decisions[i] = &pb.Decision{TaskId: d.TaskID, NodeId: d.NodeID, Reason: d.Reason}
	}
	return out
}

func responseFromPB(r *pb.ScheduleResponse) *Response {
	out := &Response{Decisions: make([]Decision, len(r.GetDecisions()))}
	for i, d := range r.GetDecisions() {
		out.Decisions[i] = Decision{TaskID: d.GetTaskId(), NodeID: d.GetNodeId(), Reason: d.GetReason()}
	}
	return out
}
