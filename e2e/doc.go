// Package e2e holds dcctl's end-to-end tests: they run against the local lab (lab/lab, real
// systemd hosts with real sshd in network namespaces) and need root.
//
// They run only when DCCTL_E2E=1; otherwise TestMain says why they were skipped and exits 0.
// The caller builds bin/dcctl, bin/nats-server and bin/nats (natscli) first. TestMain brings the lab up with 11
// hosts (the reference topology plus the standby bb_emea_3) and down at the end, even when a
// test fails; DCCTL_E2E_KEEP_LAB=1 reuses a lab that is already up and leaves it up.
//
// Helpers for tests in this package: labInventory, labNodes, sshHost, trySSH, runDcctl, runLab.
package e2e
