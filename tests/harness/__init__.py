"""Test harness: real ryu-manager processes, Mininet networks, flow tables (flows) and
measured traffic (traffic) for the regression suite, the demo and the benchmarks."""
