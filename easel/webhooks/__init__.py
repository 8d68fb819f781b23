"""Webhooks: a POST of the task's JSON to a callback URL when it ends, signed, retried and persisted."""
