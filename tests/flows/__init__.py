"""Flows the runtime tests run. They live at module top level so ZenML can reload them."""
