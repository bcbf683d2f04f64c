"""Tenants, API keys, roles and per-tenant policy."""
