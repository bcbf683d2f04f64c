"""scrub."""
