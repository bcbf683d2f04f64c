from __future__ import annotations

from pydantic import BaseModel, Field

from app.clock import InstantOut
from app.schemas import ApiModel


class PrincipalIn(ApiModel):
    name: str = Field(min_length=1, max_length=200, description="The professional's name.")
    siren: str = Field(
        min_length=1, max_length=20,
        description="SIREN: 9 digits with a valid key (422 otherwise); one principal per SIREN "
                    "(409).",
    )


class PrincipalOut(BaseModel):
    id: str = Field(description="A tenant's own principal has the tenant's id; others prn_….")
    name: str
    siren: str | None = Field(description="Null for a tenant's own principal.")
    own_tenant: str | None = Field(
        description="The tenant this principal is the own principal of; null for principals "
                    "the operator created.")
    created_at: InstantOut


class MandateIn(ApiModel):
    tenant: str = Field(min_length=1, max_length=40,
                        description="The tenant (call centre) that may call for the principal.")


class MandateOut(BaseModel):
    principal: str
    tenant: str
    tenant_name: str
    created_at: InstantOut
