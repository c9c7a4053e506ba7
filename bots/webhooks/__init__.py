"""Signed outbound webhooks: a trader's endpoints, the events they receive, and every delivery attempt."""
