package dockerapi

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

func TestPingNegotiatesTheVersion(t *testing.T) {
	h := newHarness(t)
	c := h.client()
	ping, err := c.Ping(t.Context(), client.PingOptions{NegotiateAPIVersion: true})
	if err != nil {
		t.Fatal(err)
	}
	if ping.APIVersion != APIVersion || ping.OSType != "linux" || ping.SwarmStatus == nil ||
		ping.SwarmStatus.NodeState != swarm.LocalNodeStateActive || !ping.SwarmStatus.ControlAvailable {
		t.Errorf("ping = %+v (swarm %+v)", ping, ping.SwarmStatus)
	}
	if got := c.ClientVersion(); got != APIVersion {
		t.Errorf("the client negotiated %s, want %s", got, APIVersion)
	}
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		resp := h.raw(method, "/_ping")
		body, _ := io.ReadAll(resp.Body)
		want := "OK"
		if method == http.MethodHead {
			want = ""
		}
		if resp.StatusCode != 200 || string(body) != want || resp.Header.Get("Api-Version") != APIVersion || resp.Header.Get("Swarm") != "active/manager" {
			t.Errorf("%s /_ping: %d %q, headers %v", method, resp.StatusCode, body, resp.Header)
		}
	}
}

func TestVersionsOutsideTheRangeAreRefused(t *testing.T) {
	h := newHarness(t)
	for _, tc := range []struct {
		path string
		code int
		want string
	}{
		{"/v1.44/version", 200, ""},
		{"/v1.24/version", 200, ""},
		{"/version", 200, ""},
		{"/v1.99/version", 400, "client version 1.99 is too new. Maximum supported API version is " + APIVersion},
		{"/v1.12/version", 400, "client version 1.12 is too old. Minimum supported API version is 1.24"},
		{"/v1.44/containers/json", 404, "hive's Docker API does not serve GET /containers/json"},
	} {
		resp := h.raw(http.MethodGet, tc.path)
		var body struct{ Message string }
		if tc.code != 200 {
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Errorf("%s: body: %v", tc.path, err)
			}
		}
		if resp.StatusCode != tc.code || !strings.Contains(body.Message, tc.want) ||
			(tc.code != 200 && resp.Header.Get("Content-Type") != "application/json") {
			t.Errorf("%s: %d %q (%s), want %d %q", tc.path, resp.StatusCode, body.Message, resp.Header.Get("Content-Type"), tc.code, tc.want)
		}
	}
}

func TestVersionAndInfo(t *testing.T) {
	h := newHarness(t)
	c := h.client()
	v, err := c.ServerVersion(t.Context(), client.ServerVersionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if v.APIVersion != APIVersion || v.MinAPIVersion != MinAPIVersion || v.Os != "linux" || len(v.Components) != 1 || v.Components[0].Name != "hive" {
		t.Errorf("version = %+v", v)
	}
	res, err := c.Info(t.Context(), client.InfoOptions{})
	if err != nil {
		t.Fatal(err)
	}
	in := res.Info
	sw := in.Swarm
	if in.Name != "laptop" || in.NCPU != 2 || in.MemTotal != 8<<30 || in.OSType != "linux" ||
		sw.NodeID != selfID || sw.LocalNodeState != swarm.LocalNodeStateActive || !sw.ControlAvailable ||
		sw.Nodes != 2 || sw.Managers != 1 || sw.Cluster == nil || sw.Cluster.ID != "clusteraaaaaaaaaaaaaaaaaa" ||
		len(sw.RemoteManagers) != 1 || sw.RemoteManagers[0].Addr != "10.1.0.1:4242" || sw.NodeAddr != "10.1.0.1" {
		t.Errorf("info = %+v\nswarm %+v", in, sw)
	}
}
