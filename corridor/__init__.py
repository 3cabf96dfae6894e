"""Corridor: a GraphQL service running a cross-border payment network."""
