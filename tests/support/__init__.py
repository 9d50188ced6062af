"""Helpers shared by the tests: real daemons in temp homes, free ports, the CLI."""
