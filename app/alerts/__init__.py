"""Alerts raised by the monitors (``app.alerts.service.raise_alert``) and their signed delivery
to each tenant's webhooks (``app.alerts.delivery``)."""
