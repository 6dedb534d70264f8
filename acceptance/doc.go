// Package acceptance holds hive's end-to-end tests: they run the real hive
// binary (and through it the real plugin subprocesses) against the real
// Docker Engine, the way a user would, and check what a user would see.
//
// They build with the tag "acceptance" and need HIVE_TEST_BIN (the binary to
// test; `make acceptance` sets it) and the test images built by
// testimage/build.sh. With CI=true a missing engine is a failure, never a
// skip.
package acceptance
