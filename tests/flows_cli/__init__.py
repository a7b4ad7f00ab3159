"""Flows the CLI tests run through ``kitaru run``, ``kitaru deploy`` and ``kitaru invoke``."""
