"""Console pages of the platform's operator (an operator key: no tenant), one module per page
group: ``centres`` (call centres: tenants, their keys, tariff, suspension), ``bloctel`` (the
list in force, its history, an upload with live progress), ``mandants`` (principals and
mandates), ``numeros`` (caller-ID verification), ``cles`` (the operator's own keys); ``common``:
what they share.

Every action calls the service functions the API's routers call (``app.tenancy.service``,
``app.bloctel``, ``app.principals.service``, ``app.campaigns.service``); the services invalidate
the principals' cache themselves where the API relies on it (suspension, revocation).

The modules register their routes on ``common.router`` when imported below. Each path family
lives in one module, which declares a literal path before a parametrised one of that family.
"""

from __future__ import annotations

from app.console.pages.operateur import bloctel, centres, cles, mandants, numeros  # noqa: F401
from app.console.pages.operateur.common import router

__all__ = ["router"]
