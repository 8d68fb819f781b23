"""OpenAI-compatible API: image edits served by the same catalog and engines as the DashScope routes."""
