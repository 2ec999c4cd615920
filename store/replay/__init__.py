"""Scenario replay and simulation (DESIGN.md, "Scenario replay"): the whole store driven
through the device protocol, measured against a scenario's expectations."""
