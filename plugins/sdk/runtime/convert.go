package runtime

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/hiveorch/hive/plugins/sdk/internal/pb"
)

// Conversions between the runtime's Go types and their wire form. The zero
// time travels as an absent timestamp so that it comes back as the zero
// time; durations travel as nanoseconds.

func timeToPB(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func timeFromPB(ts *timestamppb.Timestamp) time.Time {
	if ts == nil {
		return time.Time{}
	}
	return ts.AsTime()
}

func portsToPB(ports []PortBinding) []*pb.PortBinding {
	if len(ports) == 0 {
		return nil
	}
	out := make([]*pb.PortBinding, len(ports))
	for i, p := range ports {
		out[i] = &pb.PortBinding{Protocol: p.Protocol, ContainerPort: p.ContainerPort, HostPort: p.HostPort, HostIp: p.HostIP}
	}
	return out
}

func portsFromPB(ports []*pb.PortBinding) []PortBinding {
	if len(ports) == 0 {
		return nil
	}
	out := make([]PortBinding, len(ports))
	for i, p := range ports {
		out[i] = PortBinding{Protocol: p.GetProtocol(), ContainerPort: p.GetContainerPort(), HostPort: p.GetHostPort(), HostIP: p.GetHostIp()}
	}
	return out
}

func specToPB(s *ContainerSpec) *pb.ContainerSpec {
	if s == nil {
		return nil
	}
	out := &pb.ContainerSpec{
		Name:             s.Name,
		Image:            s.Image,
		Command:          s.Command,
		Args:             s.Args,
		Env:              s.Env,
		Labels:           s.Labels,
		WorkingDir:       s.WorkingDir,
		User:             s.User,
		Hostname:         s.Hostname,
		Ports:            portsToPB(s.Ports),
		Resources:        &pb.Resources{NanoCpus: s.Resources.NanoCPUs, MemoryBytes: s.Resources.MemoryBytes},
		StopSignal:       s.StopSignal,
		StopTimeoutNanos: int64(s.StopTimeout),
		Healthcheck:      healthcheckToPB(s.Healthcheck),
		Dns:              s.DNS,
	}
	for _, m := range s.Mounts {
		out.Mounts = append(out.Mounts, &pb.Mount{Type: m.Type, Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly})
	}
	return out
}

func specFromPB(s *pb.ContainerSpec) *ContainerSpec {
	if s == nil {
		return nil
	}
	out := &ContainerSpec{
		Name:       s.GetName(),
		Image:      s.GetImage(),
		Command:    s.GetCommand(),
		Args:       s.GetArgs(),
		Env:        s.GetEnv(),
		Labels:     s.GetLabels(),
		WorkingDir: s.GetWorkingDir(),
		User:       s.GetUser(),
		Hostname:   s.GetHostname(),
		Ports:      portsFromPB(s.GetPorts()),
		Resources: Resources{
			NanoCPUs:    s.GetResources().GetNanoCpus(),
			MemoryBytes: s.GetResources().GetMemoryBytes(),
		},
		StopSignal:  s.GetStopSignal(),
		StopTimeout: time.Duration(s.GetStopTimeoutNanos()),
		Healthcheck: healthcheckFromPB(s.GetHealthcheck()),
		DNS:         s.GetDns(),
	}
	for _, m := range s.GetMounts() {
		out.Mounts = append(out.Mounts, Mount{Type: m.GetType(), Source: m.GetSource(), Target: m.GetTarget(), ReadOnly: m.GetReadOnly()})
	}
	return out
}

func containerToPB(c *Container) *pb.Container {
	if c == nil {
		return nil
	}
	return &pb.Container{
		Id:         c.ID,
		Name:       c.Name,
		Image:      c.Image,
		Labels:     c.Labels,
		State:      c.State,
		Pid:        int64(c.PID),
		ExitCode:   int64(c.ExitCode),
		Error:      c.Error,
		CreatedAt:  timeToPB(c.CreatedAt),
		StartedAt:  timeToPB(c.StartedAt),
		FinishedAt: timeToPB(c.FinishedAt),
		Addresses:  c.Addresses,
		Ports:      portsToPB(c.Ports),
		Health:     c.Health,
		HealthLog:  c.HealthLog,
	}
}

func containerFromPB(c *pb.Container) *Container {
	if c == nil {
		return nil
	}
	return &Container{
		ID:         c.GetId(),
		Name:       c.GetName(),
		Image:      c.GetImage(),
		Labels:     c.GetLabels(),
		State:      c.GetState(),
		PID:        int(c.GetPid()),
		ExitCode:   int(c.GetExitCode()),
		Error:      c.GetError(),
		CreatedAt:  timeFromPB(c.GetCreatedAt()),
		StartedAt:  timeFromPB(c.GetStartedAt()),
		FinishedAt: timeFromPB(c.GetFinishedAt()),
		Addresses:  c.GetAddresses(),
		Ports:      portsFromPB(c.GetPorts()),
		Health:     c.GetHealth(),
		HealthLog:  c.GetHealthLog(),
	}
}

// healthcheckToPB keeps nil as nil: no health check in the spec keeps the
// image's.
func healthcheckToPB(h *Healthcheck) *pb.Healthcheck {
	if h == nil {
		return nil
	}
	return &pb.Healthcheck{
		Test:             h.Test,
		IntervalNanos:    int64(h.Interval),
		TimeoutNanos:     int64(h.Timeout),
		StartPeriodNanos: int64(h.StartPeriod),
		Retries:          int64(h.Retries),
	}
}

func healthcheckFromPB(h *pb.Healthcheck) *Healthcheck {
	if h == nil {
		return nil
	}
	return &Healthcheck{
		Test:        h.GetTest(),
		Interval:    time.Duration(h.GetIntervalNanos()),
		Timeout:     time.Duration(h.GetTimeoutNanos()),
		StartPeriod: time.Duration(h.GetStartPeriodNanos()),
		Retries:     int(h.GetRetries()),
	}
}

func logEntryToPB(e LogEntry) *pb.LogEntry {
	return &pb.LogEntry{Time: timeToPB(e.Time), Stream: e.Stream, Line: e.Line}
}

func logEntryFromPB(e *pb.LogEntry) LogEntry {
	return LogEntry{Time: timeFromPB(e.GetTime()), Stream: e.GetStream(), Line: e.GetLine()}
}

func progressToPB(p PullProgress) *pb.PullProgress {
	return &pb.PullProgress{Status: p.Status, Layer: p.Layer, Current: p.Current, Total: p.Total}
}

func progressFromPB(p *pb.PullProgress) PullProgress {
	return PullProgress{Status: p.GetStatus(), Layer: p.GetLayer(), Current: p.GetCurrent(), Total: p.GetTotal()}
}

// authToPB keeps nil as nil: no credential is an anonymous pull.
func authToPB(a *RegistryAuth) *pb.RegistryAuth {
	if a == nil {
		return nil
	}
	return &pb.RegistryAuth{
		ServerAddress: a.ServerAddress,
		Username:      a.Username,
		Password:      a.Password,
		IdentityToken: a.IdentityToken,
	}
}

func authFromPB(a *pb.RegistryAuth) *RegistryAuth {
	if a == nil {
		return nil
	}
	return &RegistryAuth{
		ServerAddress: a.GetServerAddress(),
		Username:      a.GetUsername(),
		Password:      a.GetPassword(),
		IdentityToken: a.GetIdentityToken(),
	}
}

func statsToPB(s *Stats) *pb.StatsResponse {
	if s == nil {
		return &pb.StatsResponse{}
	}
	return &pb.StatsResponse{
		Time:            timeToPB(s.Time),
		Known:           uint32(s.Known),
		CpuNanos:        s.CPUNanos,
		OnlineCpus:      s.OnlineCPUs,
		MemoryBytes:     s.MemoryBytes,
		MemoryLimit:     s.MemoryLimit,
		NetRxBytes:      s.NetRxBytes,
		NetTxBytes:      s.NetTxBytes,
		BlockReadBytes:  s.BlockReadBytes,
		BlockWriteBytes: s.BlockWriteBytes,
		Pids:            s.PIDs,
	}
}

func statsFromPB(s *pb.StatsResponse) *Stats {
	return &Stats{
		Time:            timeFromPB(s.GetTime()),
		Known:           StatsFields(s.GetKnown()),
		CPUNanos:        s.GetCpuNanos(),
		OnlineCPUs:      s.GetOnlineCpus(),
		MemoryBytes:     s.GetMemoryBytes(),
		MemoryLimit:     s.GetMemoryLimit(),
		NetRxBytes:      s.GetNetRxBytes(),
		NetTxBytes:      s.GetNetTxBytes(),
		BlockReadBytes:  s.GetBlockReadBytes(),
		BlockWriteBytes: s.GetBlockWriteBytes(),
		PIDs:            s.GetPids(),
	}
}
