"""The tamper-evident attempt ledger: seals, verification, retention (``app.audit.service``)."""
