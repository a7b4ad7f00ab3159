"""Flows the MCP tool tests run through ``kitaru_executions_run`` and the deployment tools."""
