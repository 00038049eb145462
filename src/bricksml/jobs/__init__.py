"""The jobs: each wires one parameter contract to its steps and its I/O."""
