"""Abuse and fraud monitors: sliding-window measures per tenant, thresholds, actions."""
