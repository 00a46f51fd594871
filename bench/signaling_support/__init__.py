"""Helpers of bench/signaling.py: the two baseline relays and the app's fixtures.

They live in this folder, not beside signaling.py, because `make bench` runs
every bench/*.py as a benchmark.
"""
