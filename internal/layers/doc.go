// Package layers holds the test that keeps imports one way, as the table
// "Packages and import direction" of docs/architecture.md draws them: a
// package imports only packages of the rows below its own. The table is
// what the test reads, so the doc and the code cannot drift apart.
package layers
