"""Console pages of a tenant's admin, one module per page group: ``registres`` (consents,
contracts, oppositions: search by number, bulk import with a live progress bar and the report of
rejected lines), ``campagnes`` (campaigns, caller IDs), ``cles`` (API keys), ``webhooks``,
``politique`` (the tenant policy within the operator's sanctions); ``common``: what they share.

Every page calls the public service functions the API's routers call (``app.registries``,
``app.campaigns``, ``app.tenancy``, ``app.alerts``) and validates a form with the API's own
request models, so that a form and the API accept and refuse exactly the same input. A refused
input re-renders its page with a French heading and the service's explanation (422; the
status of the service's answer where it says more: 409 for a name already taken).

The modules register their routes on ``common.router`` when imported below. Each path family
lives in one module, which declares a literal path before a parametrised one of that family.
"""

from __future__ import annotations

from app.console.pages.admin import campagnes, cles, politique, registres, webhooks  # noqa: F401
from app.console.pages.admin.common import router
from app.console.pages.admin.registres import reason_fr

__all__ = ["reason_fr", "router"]
