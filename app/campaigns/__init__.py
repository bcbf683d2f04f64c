"""Caller IDs (presented numbers) and campaigns."""
