"""Audit reports for compliance officers: attempt exports and summaries."""
