"""Per-request context handed from the HTTP layer to the protocol core (no I/O types)."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field

from scimhub.limits import InputLimits
from scimhub.policy import Policy
from scimhub.safety.guard import GuardRule
from scimhub.schema.registry import SchemaRegistry
from scimhub.schema.registry import default_registry


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the tenant a bearer token belongs to, and the token."""

    tenant_id: str
    token_id: str


@dataclass(frozen=True, slots=True)
class RequestContext:
    principal: Principal
    base_url: str  # e.g. https://host/scim/v2, no trailing slash
    policy: Policy = field(default_factory=Policy)
    limits: InputLimits = field(default_factory=InputLimits)
    method: str = ""  # for the audit log
    path: str = ""
    guard: GuardRule | None = None  # the deprovisioning guard in force for the tenant (None: off)
    registry: SchemaRegistry = field(default_factory=default_registry)  # the tenant's schemas

    @property
    def tenant_id(self) -> str:
        return self.principal.tenant_id
