"""The consumer's word: consents, contracts, the internal opposition list, refusals and
unassigned-number quarantines."""
