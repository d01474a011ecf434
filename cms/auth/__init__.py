"""OIDC bearer-token validation: keys, tokens, roles and the development issuer."""

from cms.auth.dev_issuer import DevIssuer
from cms.auth.jwks import RemoteJWKS, StaticKeys
from cms.auth.principal import Principal
from cms.auth.roles import roles_from_claims
from cms.auth.tokens import TokenValidator

__all__ = ["DevIssuer", "Principal", "RemoteJWKS", "StaticKeys", "TokenValidator", "roles_from_claims"]
