"""Pure request builders and validators shared by the CLI, the MCP server and the SDK."""
