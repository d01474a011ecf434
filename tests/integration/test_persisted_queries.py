"""Persisted operations over real HTTP: Apollo's APQ protocol (POST and GET), trusted documents from
graphql/operations/, the trusted-only mode with the admin app's bulk batches, and limits on persisted requests.

Besides the suite's app (APQ on, rate limits off), apps with other settings share its database; they run without a
lifespan (the suite's app opened the database), so their public cache is not live. Hashes registered in Redis are
shared with other runs: each test that needs a miss first uses a document of its own (a fresh operation name).
"""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
import pytest
import uvicorn
import websockets

from cms.api.documents import sha256_hex
from cms.app import create_app
from cms.core.settings import Settings
from cms.services import Services
from tests.support.api import Api, operation
from tests.support.processes import free_port

# Exactly what the admin app sends (urql with graphcache: `print` of the document with `__typename` added, bulk.ts
# batchDocument for bulk actions), made by its own code:
#   cd plugins/admin/web && node_modules/.bin/vite-node <script printing
#   stringifyDocument(formatDocument(batchDocument(PublishProgramDocument, 3)))>
ADMIN_PUBLISH_BATCH_3 = """\
mutation PublishProgramBatch($id_0: ID!, $at_0: DateTime, $id_1: ID!, $at_1: DateTime, $id_2: ID!, $at_2: DateTime) {
  item0: publishProgram(id: $id_0, at: $at_0) {
    __typename
    ... on Program {
      id
      status
      publishAt
      __typename
    }
    ... on Error {
      message
      __typename
    }
    ... on ValidationError {
      fields {
        path
        message
        __typename
      }
      __typename
    }
  }
  item1: publishProgram(id: $id_1, at: $at_1) {
    __typename
    ... on Program {
      id
      status
      publishAt
      __typename
    }
    ... on Error {
      message
      __typename
    }
    ... on ValidationError {
      fields {
        path
        message
        __typename
      }
      __typename
    }
  }
  item2: publishProgram(id: $id_2, at: $at_2) {
    __typename
    ... on Program {
      id
      status
      publishAt
      __typename
    }
    ... on Error {
      message
      __typename
    }
    ... on ValidationError {
      fields {
        path
        message
        __typename
      }
      __typename
    }
  }
}"""

ADMIN_UNPUBLISH_EPISODE_BATCH_2 = """\
mutation UnpublishEpisodeBatch($id_0: ID!, $id_1: ID!) {
  item0: unpublishEpisode(id: $id_0) {
    __typename
    ... on Episode {
      id
      status
      publishAt
      __typename
    }
    ... on Error {
      message
      __typename
    }
  }
  item1: unpublishEpisode(id: $id_1) {
    __typename
    ... on Episode {
      id
      status
      publishAt
      __typename
    }
    ... on Error {
      message
      __typename
    }
  }
}"""

ADMIN_EPISODE_WITH_PROGRAM = """\
query EpisodeWithProgram($id: ID!) {
  episode(id: $id) {
    id
    title
    slug
    publishAt
    program {
      id
      title
      slug
      __typename
    }
    __typename
  }
}"""


def unique_query() -> tuple[str, str]:
    """(operation name, document) never registered before: a miss the first time on any Redis."""
    name = f"Apq{uuid.uuid4().hex[:12]}"
    return name, f"query {name} {{ programs(first: 5) {{ edges {{ node {{ id title }} }} }} }}"


def persisted(sha: str, version: object = 1) -> dict:
    return {"persistedQuery": {"version": version, "sha256Hash": sha}}


async def post_apq(
    client: httpx.AsyncClient, sha: str, query: str | None = None, variables: dict | None = None, **kwargs
) -> httpx.Response:
    body: dict = {"extensions": persisted(sha), "variables": variables or {}}
    if query is not None:
        body["query"] = query
    return await client.post("/graphql", json=body, **kwargs)


async def get_apq(
    client: httpx.AsyncClient,
    sha: str,
    name: str | None = None,
    variables: dict | None = None,
    query: str | None = None,
    **kwargs,
) -> httpx.Response:
    """A persisted query by GET, as Apollo Client's link sends one (useGETForHashedQueries)."""
    params = {"variables": json.dumps(variables or {}), "extensions": json.dumps(persisted(sha))}
    if name:
        params["operationName"] = name
    if query is not None:
        params["query"] = query
    return await client.get("/graphql", params=params, **kwargs)


def error_code(response: httpx.Response) -> str:
    return response.json()["errors"][0]["extensions"]["code"]


def bearer(api: Api, role: str) -> dict[str, str]:
    return {"authorization": f"Bearer {api.token(role)}"}


async def published_program(api: Api, title: str) -> str:
    created = await api.data(operation("CreateProgram"), {"input": {"title": title}}, role="editor")
    pid = created["createProgram"]["id"]
    await api.data(operation("PublishProgram"), {"id": pid}, role="editor")
    return pid


@asynccontextmanager
async def serving(settings: Settings, db_target, issuer, **overrides) -> AsyncIterator[Api]:
    """Another app on the suite's database with `overrides`, without a lifespan; an Api client for it."""
    app = create_app(Services(settings.model_copy(update=overrides), database=db_target))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        assert not task.done(), task.result()
        await asyncio.sleep(0.02)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{sock.getsockname()[1]}", timeout=30) as client:
            yield Api(client, issuer)
    finally:
        server.should_exit = True
        await task
        await app.state.persisted.aclose()
        if app.state.rate_limiter is not None:
            await app.state.rate_limiter.aclose()


@pytest.fixture(scope="module")
async def apq_off(settings, db_target, issuer, live_server) -> AsyncIterator[Api]:
    async with serving(settings, db_target, issuer, persisted_queries=False) as api:
        yield api


@pytest.fixture(scope="module")
async def trusted_only(settings, db_target, issuer, live_server) -> AsyncIterator[Api]:
    async with serving(settings, db_target, issuer, trusted_documents_only=True) as api:
        yield api


# --- automatic persisted queries -------------------------------------------------------------------------------------


async def test_apq_round_trip_by_post(api):
    await published_program(api, "Persisted Show")
    name, query = unique_query()
    sha = sha256_hex(query)

    # What Apollo Client sends first: the hash alone. Unknown: the error its link retries on, as Apollo Server says it.
    miss = await post_apq(api.client, sha)
    assert miss.status_code == 200 and miss.headers["content-type"].startswith("application/json")
    assert miss.json() == {
        "errors": [{"message": "PersistedQueryNotFound", "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}]
    }
    assert miss.headers["cache-control"] == "no-store"

    registered = await post_apq(api.client, sha, query)  # the retry: hash and document
    assert registered.status_code == 200, registered.text
    titles = [e["node"]["title"] for e in registered.json()["data"]["programs"]["edges"]]
    assert titles == ["Persisted Show"]

    hit = await post_apq(api.client, sha)
    assert hit.status_code == 200 and hit.json() == registered.json()


async def test_apq_round_trip_by_get(api):
    await published_program(api, "Persisted By Get")
    name, query = unique_query()
    sha = sha256_hex(query)
    miss = await get_apq(api.client, sha, name)
    assert miss.status_code == 200 and error_code(miss) == "PERSISTED_QUERY_NOT_FOUND"
    registered = await get_apq(api.client, sha, name, query=query)
    assert registered.status_code == 200, registered.text
    hit = await get_apq(api.client, sha, name)
    assert hit.status_code == 200 and hit.json() == registered.json()
    assert hit.json()["data"]["programs"]["edges"][0]["node"]["title"] == "Persisted By Get"


async def test_registration_is_shared_through_redis(api, apq_off, settings, db_target, issuer):
    """Another API process (another app, the same Redis) knows a hash registered here."""
    await published_program(api, "Shared")
    name, query = unique_query()
    sha = sha256_hex(query)
    assert (await post_apq(api.client, sha, query)).status_code == 200
    async with serving(settings, db_target, issuer) as other:
        hit = await post_apq(other.client, sha)
        assert hit.status_code == 200, hit.text
        assert hit.json()["data"]["programs"]["edges"][0]["node"]["title"] == "Shared"


async def test_redis_down_falls_back_to_the_process(settings, db_target, issuer, live_server):
    async with serving(settings, db_target, issuer, redis_url=f"redis://127.0.0.1:{free_port()}") as api:
        name, query = unique_query()
        sha = sha256_hex(query)
        assert error_code(await post_apq(api.client, sha)) == "PERSISTED_QUERY_NOT_FOUND"
        registered = await post_apq(api.client, sha, query)
        assert registered.status_code == 200 and "data" in registered.json(), registered.text
        hit = await post_apq(api.client, sha)
        assert hit.status_code == 200 and hit.json() == registered.json()


async def test_bad_persisted_requests_are_refused(api):
    name, query = unique_query()
    wrong = await post_apq(api.client, sha256_hex(query + " "), query)
    assert wrong.status_code == 400
    assert wrong.json()["errors"][0]["message"] == "provided sha does not match query"
    assert "data" not in wrong.json()
    # Not registered either way: the hash that was named is still unknown.
    assert error_code(await post_apq(api.client, sha256_hex(query + " "))) == "PERSISTED_QUERY_NOT_FOUND"

    version = await api.client.post("/graphql", json={"query": query, "extensions": persisted(sha256_hex(query), 2)})
    assert version.status_code == 400 and "version" in version.json()["errors"][0]["message"]
    for bad in ("ABC", sha256_hex(query).upper(), 7):
        response = await api.client.post(
            "/graphql", json={"extensions": {"persistedQuery": {"version": 1, "sha256Hash": bad}}}
        )
        assert response.status_code == 400, bad
    # The same parameter twice in a GET: which one would run? Refused, never guessed.
    twice = await api.client.get("/graphql", params=[("query", "{ __typename }"), ("query", "{ viewer { id } }")])
    assert twice.status_code == 400


async def test_documents_that_fail_are_not_registered(api):
    query = f"query Broken{uuid.uuid4().hex[:8]} {{ noSuchField }}"
    sha = sha256_hex(query)
    failed = await post_apq(api.client, sha, query)
    assert failed.status_code == 200 and failed.json()["errors"]
    assert error_code(await post_apq(api.client, sha)) == "PERSISTED_QUERY_NOT_FOUND"


async def test_mutation_by_get_stays_refused(api):
    sha = sha256_hex(operation("PublishProgram"))
    response = await get_apq(api.client, sha, "PublishProgram", {"id": "x"}, headers=bearer(api, "editor"))
    assert response.status_code == 405 and response.headers["allow"] == "POST"


# --- trusted documents -----------------------------------------------------------------------------------------------


async def test_trusted_documents_are_known_by_hash_with_apq_off(api, apq_off):
    await published_program(api, "Trusted")
    programs = operation("Programs")
    response = await post_apq(apq_off.client, sha256_hex(programs), variables={"first": 5})
    assert response.status_code == 200, response.text
    assert [e["node"]["title"] for e in response.json()["data"]["programs"]["edges"]] == ["Trusted"]
    by_get = await get_apq(apq_off.client, sha256_hex(programs), "Programs", {"first": 5})
    assert by_get.status_code == 200 and by_get.json() == response.json()

    # Nothing else is known by hash, and nothing is registered: Apollo Client stops sending hashes on this.
    name, query = unique_query()
    unknown = await post_apq(apq_off.client, sha256_hex(query))
    assert unknown.status_code == 200 and unknown.json()["errors"][0] == {
        "message": "PersistedQueryNotSupported",
        "extensions": {"code": "PERSISTED_QUERY_NOT_SUPPORTED"},
    }
    ran = await post_apq(apq_off.client, sha256_hex(query), query)
    assert ran.status_code == 200 and ran.json()["data"]["programs"]["edges"]
    assert error_code(await post_apq(apq_off.client, sha256_hex(query))) == "PERSISTED_QUERY_NOT_SUPPORTED"


async def test_trusted_only_refuses_other_documents_unexecuted(api, trusted_only):
    adhoc = await trusted_only.client.post("/graphql", json={"query": "{ __typename }"})
    assert adhoc.status_code == 400 and error_code(adhoc) == "PERSISTED_QUERY_REQUIRED"
    assert "data" not in adhoc.json()
    by_get = await trusted_only.client.get("/graphql", params={"query": "{ __typename }"})
    assert by_get.status_code == 400 and error_code(by_get) == "PERSISTED_QUERY_REQUIRED"

    # An ad-hoc mutation never runs, signed in or not; nor does registering one by hash.
    create = 'mutation { createProgram(input: {title: "Sneaked In"}) { __typename } }'
    refused = await trusted_only.post(create, role="editor")
    assert refused.status_code == 400 and error_code(refused) == "PERSISTED_QUERY_REQUIRED"
    registering = await post_apq(trusted_only.client, sha256_hex(create), create, headers=bearer(api, "editor"))
    assert registering.status_code == 400 and error_code(registering) == "PERSISTED_QUERY_REQUIRED"
    assert await _statuses(api) == []

    # A hash registered elsewhere (APQ on the suite's app) is known, but its document is still not trusted.
    name, query = unique_query()
    assert (await post_apq(api.client, sha256_hex(query), query)).status_code == 200
    by_hash = await post_apq(trusted_only.client, sha256_hex(query))
    assert by_hash.status_code == 400 and error_code(by_hash) == "PERSISTED_QUERY_REQUIRED"


async def test_trusted_only_runs_trusted_documents(api, trusted_only):
    pid = await published_program(api, "Trusted Only")
    created = await api.data(operation("CreateEpisode"), {"input": {"programId": pid, "title": "Ep"}}, role="editor")
    eid = created["createEpisode"]["id"]
    await api.data(operation("PublishEpisode"), {"id": eid}, role="editor")
    text = operation("EpisodeWithProgram")
    by_text = await trusted_only.post(text, {"id": eid})
    assert by_text.status_code == 200 and by_text.json()["data"]["episode"]["program"]["title"] == "Trusted Only"
    by_hash = await post_apq(trusted_only.client, sha256_hex(text), variables={"id": eid})
    assert by_hash.json() == by_text.json()
    # As the admin app sends it (printed, `__typename` added), by text and by the hash of that text.
    admin = await trusted_only.post(ADMIN_EPISODE_WITH_PROGRAM, {"id": eid}, role="editor")
    assert admin.status_code == 200, admin.text
    assert admin.json()["data"]["episode"]["__typename"] == "Episode"
    admin_hash = await post_apq(trusted_only.client, sha256_hex(ADMIN_EPISODE_WITH_PROGRAM), variables={"id": eid})
    assert admin_hash.json()["data"] == admin.json()["data"]


async def _draft_programs(api: Api, count: int) -> list[str]:
    ids = []
    for index in range(count):
        created = await api.data(operation("CreateProgram"), {"input": {"title": f"Bulk {index}"}}, role="editor")
        ids.append(created["createProgram"]["id"])
    return ids


async def _statuses(api: Api) -> list[str]:
    data = await api.data("{ programs(first: 10) { edges { node { status } } } }", role="editor")
    return sorted(e["node"]["status"] for e in data["programs"]["edges"])


async def test_trusted_only_accepts_the_admin_bulk_batch(api, trusted_only):
    ids = await _draft_programs(api, 3)
    variables = {f"id_{index}": pid for index, pid in enumerate(ids)}
    response = await trusted_only.post(ADMIN_PUBLISH_BATCH_3, variables, role="editor")
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert [data[f"item{index}"]["status"] for index in range(3)] == ["PUBLISHED"] * 3
    assert await _statuses(api) == ["PUBLISHED"] * 3


@pytest.mark.parametrize(
    "tamper",
    [
        lambda text: text.replace("item2: publishProgram", "item2: deleteProgram"),  # another mutation
        lambda text: text.replace("item1: publishProgram(id: $id_1, at: $at_1)", "item1: publishProgram(id: $id_0)"),
        lambda text: text.replace("      status\n", "      status\n      title\n", 1),  # one more field in one copy
        lambda text: text.replace("PublishProgramBatch", "DeleteProgramBatch"),
        lambda text: text.replace("item2", "extra"),  # not the admin's aliases
        lambda text: text.replace("mutation PublishProgramBatch", "mutation PublishProgramBatch @include(if: true)"),
    ],
)
async def test_trusted_only_refuses_a_tampered_batch(api, trusted_only, tamper: Callable[[str], str]):
    ids = await _draft_programs(api, 3)
    text = tamper(ADMIN_PUBLISH_BATCH_3)
    assert text != ADMIN_PUBLISH_BATCH_3
    variables = {f"id_{index}": pid for index, pid in enumerate(ids)}
    response = await trusted_only.post(text, variables, role="editor")
    assert response.status_code == 400 and error_code(response) == "PERSISTED_QUERY_REQUIRED", response.text
    assert await _statuses(api) == ["DRAFT"] * 3


async def test_trusted_only_caps_the_batch(api, trusted_only):
    def batch(count: int) -> str:
        head = ", ".join(f"$id_{i}: ID!" for i in range(count))
        items = "\n".join(
            f"  item{i}: unpublishEpisode(id: $id_{i}) {{\n    __typename\n    ... on Episode {{\n      id\n"
            "      status\n      publishAt\n      __typename\n    }\n    ... on Error {\n      message\n"
            "      __typename\n    }\n  }"
            for i in range(count)
        )
        return f"mutation UnpublishEpisodeBatch({head}) {{\n{items}\n}}"

    assert batch(2) == ADMIN_UNPUBLISH_EPISODE_BATCH_2  # the same builder as the admin's, checked against it
    ok = await trusted_only.post(batch(100), {f"id_{i}": "missing" for i in range(100)}, role="editor")
    assert ok.status_code == 200, ok.text
    over = await trusted_only.post(batch(101), {f"id_{i}": "missing" for i in range(101)}, role="editor")
    assert over.status_code == 400 and error_code(over) == "PERSISTED_QUERY_REQUIRED"


# --- limits ----------------------------------------------------------------------------------------------------------


async def test_rate_and_cost_limits_apply_to_persisted_requests(settings, db_target, issuer, live_server):
    prefix = f"cms-test-ratelimit:{uuid.uuid4().hex[:12]}"
    limits = dict(rate_limit_enabled=True, rate_reads="10/3 second", query_cost_limit=10, rate_limit_prefix=prefix)
    async with serving(settings, db_target, issuer, **limits) as api:
        costly = f"query Costly{uuid.uuid4().hex[:8]} {{ programs(first: 4) {{ edges {{ node {{ id }} }} }} }}"
        over = await post_apq(api.client, sha256_hex(costly), costly)
        assert over.status_code == 200 and over.json()["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"

        seven = f"query Seven{uuid.uuid4().hex[:8]} {{ programs(first: 2) {{ edges {{ node {{ id }} }} }} }}"
        sha = sha256_hex(seven)
        first = await post_apq(api.client, sha, seven, headers=bearer(api, "viewer"))
        assert first.status_code == 200 and not first.json().get("errors"), first.text
        again = await post_apq(api.client, sha, headers=bearer(api, "viewer"))  # 14 > 10 points
        assert again.status_code == 429 and error_code(again) == "RATE_LIMITED"
        by_get = await get_apq(api.client, sha, headers=bearer(api, "viewer"))
        assert by_get.status_code == 429


async def test_trusted_only_guards_subscriptions(api, trusted_only):
    """On the graphql-transport-ws socket too: an untrusted document gets an `error` for its id, a trusted one runs."""
    url = str(trusted_only.client.base_url).replace("http://", "ws://") + "/graphql"
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as socket:
        init = {"type": "connection_init", "payload": {"authorization": f"Bearer {api.token('editor')}"}}
        await socket.send(json.dumps(init))
        assert json.loads(await socket.recv())["type"] == "connection_ack"
        adhoc = 'subscription { assetProgress(id: "x") { status } }'
        await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": adhoc}}))
        refused = json.loads(await socket.recv())
        assert refused["id"] == "1" and refused["type"] == "error"
        assert refused["payload"][0]["extensions"]["code"] == "PERSISTED_QUERY_REQUIRED"
        trusted = {"query": operation("AssetProgress"), "variables": {"id": "QXNzZXQ6MA=="}}
        await socket.send(json.dumps({"id": "2", "type": "subscribe", "payload": trusted}))
        answer = json.loads(await socket.recv())
        assert answer["id"] == "2" and answer["type"] in ("next", "error", "complete"), answer
        assert "PERSISTED_QUERY_REQUIRED" not in json.dumps(answer)
