"""The load bench's parts (bench/load.py runs them): starting and watching the store's
processes (harness), the scenario (scenario), the figures read from the database afterwards
(figures) and the latency breakdown read from the store's trace lines (breakdown). The cart and
settle latency benches start their store through the same harness."""
