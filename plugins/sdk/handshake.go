package sdk

import plugin "github.com/hashicorp/go-plugin"

// Handshake is the go-plugin handshake hive and its plugins share. hive
// sets the magic cookie in the plugin's environment when it starts it; a
// plugin binary run by hand sees no cookie and exits with a message saying
// it is a plugin. A plugin whose ProtocolVersion differs from hive's is
// refused at start.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "HIVE_PLUGIN_MAGIC_COOKIE",
	MagicCookieValue: "b0278d14bb4b18ec1cb683127d84ed9613e92ed134a3c1eab928e1795852dd5d",
}

// Names of the plugins in go-plugin's plugin set: a plugin process serves
// one plugin under its kind's name, and hive dispenses it by that name.
const (
	PluginSetRuntime   = string(KindRuntime)
	PluginSetScheduler = string(KindScheduler)
	PluginSetSecrets   = string(KindSecrets)
	PluginSetNetwork   = string(KindNetwork)
)
