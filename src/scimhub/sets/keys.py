"""SET signing keys: generated, serialised and used through joserfc (JWS compact, ES256).

joserfc is the optional ``sets`` extra: it is imported when a key is made or used, so the rest
of scimhub (and the CLI) loads without it. Private keys live in the database
(``set_signing_keys``) as private JWK JSON; the JWKS a tenant publishes holds the public halves
of its active and still-published keys.
"""

from __future__ import annotations

import base64
import importlib.util
from dataclasses import dataclass
from dataclasses import field

import orjson

from scimhub.schema.model import JsonDoc
from scimhub.sets.claims import SET_TYPE

ALGORITHM = "ES256"  # ECDSA P-256 + SHA-256 (RFC 7518 §3.4): short signatures, fast to sign
CURVE = "P-256"


def available() -> bool:
    """Whether joserfc (the ``sets`` extra) is installed: without it no stream is served."""
    return importlib.util.find_spec("joserfc") is not None


class KeyState:
    ACTIVE = "active"  # signs new SETs, published
    PUBLISHED = "published"  # rotated out: published so the SETs it signed still verify
    RETIRED = "retired"  # no longer published


@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str
    alg: str
    state: str
    created_at: str
    private_jwk: str = field(repr=False)

    def public_jwk(self) -> JsonDoc:
        from joserfc import jwk

        key = jwk.import_key(orjson.loads(self.private_jwk))
        public: JsonDoc = key.as_dict(private=False)
        return {**public, "kid": self.kid, "alg": self.alg, "use": "sig"}

    def to_json(self) -> JsonDoc:
        return {"kid": self.kid, "alg": self.alg, "state": self.state, "createdAt": self.created_at}


def new_private_jwk() -> tuple[str, str]:
    """A fresh P-256 key: its kid and its private JWK JSON. The kid is the RFC 7638 SHA-256
    thumbprint in hex: base64url may start with "-", which a command line reads as an option."""
    from joserfc import jwk

    key = jwk.ECKey.generate_key(CURVE, private=True)
    thumbprint = str(key.thumbprint())
    kid = base64.urlsafe_b64decode(thumbprint + "=" * (-len(thumbprint) % 4)).hex()
    return kid, orjson.dumps({**key.as_dict(private=True), "kid": kid}).decode()


def sign(key: SigningKey, claims: JsonDoc) -> str:
    """The compact JWS of ``claims`` with ``typ: secevent+jwt`` and the key's ``kid``."""
    from joserfc import jwk
    from joserfc import jwt

    header = {"alg": key.alg, "typ": SET_TYPE, "kid": key.kid}
    return jwt.encode(header, claims, jwk.import_key(orjson.loads(key.private_jwk)), algorithms=[key.alg])


def jwks(keys: list[SigningKey]) -> JsonDoc:
    """The JWK Set (RFC 7517 §5) of the keys receivers may verify with (never retired ones)."""
    return {"keys": [k.public_jwk() for k in keys if k.state != KeyState.RETIRED]}
