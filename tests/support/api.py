"""A GraphQL client for tests: real HTTP, real tokens from the test issuer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tests.support.oidc_issuer import TestIssuer

OPERATIONS = Path(__file__).resolve().parents[2] / "graphql" / "operations"


def operation(name: str) -> str:
    """The text of graphql/operations/<name>.graphql, the operations clients and docs share."""
    return (OPERATIONS / f"{name}.graphql").read_text()


class Api:
    def __init__(self, client: httpx.AsyncClient, issuer: TestIssuer) -> None:
        self.client = client
        self.issuer = issuer

    def token(self, role: str | None, sub: str | None = None) -> str | None:
        if role is None:
            return None
        return self.issuer.mint(
            sub or f"{role}-1", (role,), claims_extra={"name": f"{role.title()} One", "email": f"{role}@example.org"}
        )

    async def post(
        self,
        query: str,
        variables: dict | None = None,
        *,
        role: str | None = None,
        token: str | None = None,
        sub: str | None = None,
    ) -> httpx.Response:
        token = token or self.token(role, sub)
        headers = {"authorization": f"Bearer {token}"} if token else {}
        return await self.client.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)

    async def gql(
        self, query: str, variables: dict | None = None, *, role: str | None = None, sub: str | None = None
    ) -> dict[str, Any]:
        """POST a query; asserts HTTP 200 and returns the whole JSON body (data and errors)."""
        response = await self.post(query, variables, role=role, sub=sub)
        assert response.status_code == 200, response.text
        return response.json()

    async def data(
        self, query: str, variables: dict | None = None, *, role: str | None = None, sub: str | None = None
    ) -> dict[str, Any]:
        """POST a query that must succeed without errors; returns `data`."""
        body = await self.gql(query, variables, role=role, sub=sub)
        assert not body.get("errors"), body["errors"]
        return body["data"]
