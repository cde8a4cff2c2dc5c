"""The benchmark harness: a grid of runs, one process per cell, locally or on Ray."""
