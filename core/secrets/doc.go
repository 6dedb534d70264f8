// Package secrets turns stored secrets back into values on the managers,
// for delivery to the nodes whose tasks use them.
//
// A secret's value is sealed by controlapi under the cluster's
// data-encryption key (core/seal) before it enters the Raft log; an Opener
// holds that key in memory and unseals a secret when the dispatcher needs
// its value. A secret with a driver is not stored by hive at all: the
// Opener asks the driver's plugin through DriverFetch.
package secrets
