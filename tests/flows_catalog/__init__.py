"""Flows for the flow-catalogue and logged-metadata tests."""
