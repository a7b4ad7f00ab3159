"""Flows for the deployment tests (``tests/test_deployments.py``).

Every test deploys flows of its own: all tests of one process share one store, and a flow's
versions and tags belong to its name. Flows live at module top level so that the detached
worker of a local deployment can import them again.
"""
