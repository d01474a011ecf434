"""Rate limits over real HTTP, on the real Redis: per user, per IP, per failed token; reads, mutations, uploads.

A second app with the limits on (short windows, small budgets) shares the suite's database with `live_server`
(which opened it, so this one runs without a lifespan). Its Redis keys have a prefix of their own, and each test
uses callers (token subjects, loopback source addresses 127.0.0.x) no other test uses.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import uvicorn

from cms.app import create_app
from cms.core.settings import Settings
from cms.http.ratelimit import RateLimiter
from cms.services import Services
from tests.support.api import Api
from tests.support.processes import eventually, free_port, sleep_past

BUDGETS = dict(
    rate_reads="10/3 second",
    rate_mutations="3/3 second",
    rate_uploads="2/3 second",
    rate_auth_failures="5/3 second",
)
TYPENAME = "{ __typename }"  # costs nothing: charged the minimum, 1 read
ADDRESSES = iter(f"127.0.0.{n}" for n in range(10, 250))  # one fresh source address per caller


@pytest.fixture(scope="module")
async def limited(settings: Settings, db_target, live_server) -> AsyncIterator[str]:
    limited_settings = settings.model_copy(
        update=dict(
            BUDGETS,
            rate_limit_enabled=True,
            query_cost_limit=10,
            rate_limit_prefix=f"cms-test-ratelimit:{uuid.uuid4().hex[:12]}",
        )
    )
    app = create_app(Services(limited_settings, database=db_target))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        assert not task.done(), task.result()
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        await app.state.rate_limiter.aclose()


class Caller:
    """A client from its own loopback address, anonymous or with tokens from the test issuer."""

    def __init__(self, url: str, issuer) -> None:
        self.address = next(ADDRESSES)
        transport = httpx.AsyncHTTPTransport(local_address=self.address)
        self.client = httpx.AsyncClient(base_url=url, transport=transport, timeout=30)
        self.api = Api(self.client, issuer)

    async def post(self, query: str, variables: dict | None = None, **kwargs) -> httpx.Response:
        return await self.api.post(query, variables, **kwargs)

    async def until_refused(self, query: str, *, most: int = 40, **kwargs) -> tuple[int, httpx.Response]:
        """Send `query` until a 429 (at most `most` times): (how many were answered 2xx first, the 429)."""
        passed = 0
        for _ in range(most):
            response = await self.post(query, **kwargs)
            if response.status_code == 429:
                return passed, response
            assert response.status_code == 200, response.text
            passed += 1
        raise AssertionError(f"no 429 after {most} requests")


@pytest.fixture
async def caller(limited: str, issuer, api) -> AsyncIterator:
    """A factory of callers (`api` empties the tables afterwards)."""
    made: list[Caller] = []

    def make() -> Caller:
        made.append(Caller(limited, issuer))
        return made[-1]

    yield make
    for one in made:
        await one.client.aclose()


def assert_rate_limited(response: httpx.Response, *, budget: str, limit: int) -> int:
    """A 429 with the headers and the GraphQL error naming `budget`; returns Retry-After."""
    assert response.status_code == 429, response.text
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= 6  # at most two 3-second windows
    assert response.headers["ratelimit-limit"] == str(limit)
    assert 0 <= int(response.headers["ratelimit-remaining"]) < limit
    assert response.headers["ratelimit-reset"] == str(retry_after)
    assert response.headers["ratelimit-policy"] == f"{limit};w=3"
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert error["message"].startswith(f"rate limit exceeded: {budget} (")
    assert error["message"].endswith(f"; retry in {retry_after} s")
    return retry_after


async def wait_out(retry_after: int) -> None:
    await sleep_past(datetime.now(UTC) + timedelta(seconds=retry_after))


async def test_reads_are_limited_per_user_and_recover_after_the_window(caller):
    me, neighbour = caller(), caller()  # the same budget sizes, different subjects
    passed, refused = await me.until_refused(TYPENAME, role="viewer", sub="reader-a")
    assert passed >= 10  # the whole budget first (more only if a slow machine let the window slide)
    retry_after = assert_rate_limited(refused, budget="reads per user", limit=10)
    assert "10 query cost points per 3 seconds" in refused.json()["errors"][0]["message"]
    assert refused.json().get("data") is None

    # Another user, even from the same address, has a budget of their own; so has the address when anonymous.
    assert (await me.post(TYPENAME, role="viewer", sub="reader-b")).status_code == 200
    assert (await me.post(TYPENAME)).status_code == 200
    assert (await neighbour.post(TYPENAME, role="viewer", sub="reader-c")).status_code == 200

    await wait_out(retry_after)
    response = await me.post(TYPENAME, role="viewer", sub="reader-a")
    assert response.status_code == 200, response.text
    assert response.json()["data"] == {"__typename": "Query"}


async def test_anonymous_reads_are_limited_per_ip(caller):
    crowd, other = caller(), caller()
    passed, refused = await crowd.until_refused(TYPENAME)
    assert passed >= 10
    retry_after = assert_rate_limited(refused, budget="reads per IP", limit=10)

    assert (await other.post(TYPENAME)).status_code == 200  # another address
    assert (await crowd.post(TYPENAME, role="viewer", sub="signed-in-at-crowd")).status_code == 200  # a user's own

    await wait_out(retry_after)
    assert (await crowd.post(TYPENAME)).status_code == 200


async def test_costly_queries_use_more_of_the_read_budget(caller):
    me = caller()
    seven = "{ programs(first: 2) { edges { node { id } } } }"  # 1 + 2 x (edges + node + id) = 7 points
    response = await me.post(seven, role="viewer", sub="costly-reader")
    assert response.status_code == 200 and not response.json().get("errors"), response.text
    refused = await me.post(seven, role="viewer", sub="costly-reader")  # 14 > 10
    assert_rate_limited(refused, budget="reads per user", limit=10)
    assert "this request costs 7)" in refused.json()["errors"][0]["message"]
    # The refusal charged nothing: cheaper reads still fit what is left.
    assert (await me.post(TYPENAME, role="viewer", sub="costly-reader")).status_code == 200

    # The app's cost limit is the whole read budget here (CMS_QUERY_COST_LIMIT may not be more).
    ten = "{ programs(first: 3) { edges { node { id } } } }"
    whole = await me.post(ten, role="viewer", sub="fresh-costly-reader")
    assert whole.status_code == 200 and not whole.json().get("errors"), whole.text
    over = await me.post("{ programs(first: 4) { edges { node { id } } } }", role="viewer", sub="fresh-reader-2")
    assert over.status_code == 200, over.text
    assert over.json()["errors"][0]["extensions"] == {"code": "QUERY_TOO_COSTLY", "cost": 13, "limit": 10}


async def test_mutations_have_their_own_budget_per_user(caller, api):
    editor = caller()
    create = "mutation($title: String!) { createProgram(input: {title: $title}) { __typename } }"
    passed = 0
    while (
        refused := await editor.post(create, {"title": f"Limited {passed}"}, role="editor", sub="busy-editor")
    ).status_code == 200 and passed < 40:
        assert refused.json()["data"]["createProgram"]["__typename"] == "Program", refused.text
        passed += 1
    assert passed >= 3
    retry_after = assert_rate_limited(refused, budget="mutations per user", limit=3)
    assert "(3 per 3 seconds)" in refused.json()["errors"][0]["message"]
    created = (await api.data("{ programs { totalCount } }", role="editor"))["programs"]["totalCount"]
    assert created == passed  # the refused mutation did not run
    create = 'mutation { createProgram(input: {title: "Calm"}) { __typename } }'

    # Reads are a separate budget; another editor has their own mutations.
    assert (await editor.post(TYPENAME, role="editor", sub="busy-editor")).status_code == 200
    assert (await editor.post(create, role="editor", sub="calm-editor")).status_code == 200

    # Two mutation fields in one document count two.
    await wait_out(retry_after)
    await wait_out(3)  # and the previous window's weight gone: the full budget again
    two = 'mutation { a: createProgram(input: {title: "A"}) { __typename } b: createProgram(input: {title: "B"}) { __typename } }'
    assert (await editor.post(two, role="editor", sub="busy-editor")).status_code == 200
    assert_rate_limited(await editor.post(two, role="editor", sub="busy-editor"), budget="mutations per user", limit=3)


async def test_upload_creation_is_limited_across_create_upload_and_put(caller):
    uploader = caller()
    token = uploader.api.token("editor", "uploader")
    create = 'mutation { createUpload(input: {filename: "a.mp4", size: 10}) { __typename } }'
    response = await uploader.post(create, token=token)
    assert response.status_code == 200, response.text  # charged (whatever the mutation answers)
    headers = {"authorization": f"Bearer {token}"}
    put = await uploader.client.put(f"/uploads/{uuid.uuid4()}", content=b"x" * 10, headers=headers)
    assert put.status_code != 429, put.text

    refused = await uploader.client.put(f"/uploads/{uuid.uuid4()}", content=b"x" * 10, headers=headers)
    assert refused.status_code == 429, refused.text
    assert refused.json() == {"error": refused.json()["error"], "code": "RATE_LIMITED"}
    assert refused.json()["error"].startswith("rate limit exceeded: uploads per user (2 per 3 seconds)")
    assert int(refused.headers["retry-after"]) >= 1 and refused.headers["ratelimit-limit"] == "2"

    graphql = await uploader.post(create, token=token)
    assert_rate_limited(graphql, budget="uploads per user", limit=2)
    # Other mutations are not upload creation.
    assert (
        await uploader.post('mutation { createProgram(input: {title: "P"}) { __typename } }', token=token)
    ).status_code == 200


async def test_failed_tokens_are_limited_per_source_and_recover(caller, issuer):
    attacker, bystander = caller(), caller()
    forged = issuer.forge("expired")
    statuses = []
    for _ in range(20):
        response = await attacker.post(TYPENAME, token=forged)
        statuses.append(response.status_code)
        if response.status_code == 429:
            break
    assert statuses[:5] == [401] * 5 and statuses[-1] == 429, statuses
    retry_after = assert_rate_limited(response, budget="failed authentications per IP", limit=5)
    assert "data" not in response.json()

    # While refused, no token from that source is even checked; anonymous requests and other sources go on.
    valid = attacker.api.token("viewer", "victim")
    assert (await attacker.post(TYPENAME, token=valid)).status_code == 429
    assert (await attacker.post(TYPENAME)).status_code == 200
    assert (await bystander.post(TYPENAME, token=valid)).status_code == 200
    assert (await bystander.post(TYPENAME, token=forged)).status_code == 401

    await wait_out(retry_after)
    assert (await attacker.post(TYPENAME, token=valid)).status_code == 200
    assert (await attacker.post(TYPENAME, token=forged)).status_code == 401


async def test_responses_the_schema_never_costs_still_count(caller):
    """A malformed request (answered before any GraphQL runs) costs 1 read, charged in a batch moments later."""
    sender = caller()
    statuses: list[int] = []
    for _ in range(60):
        response = await sender.client.post(
            "/graphql", content=b'{"query": ', headers={"content-type": "application/json"}
        )
        statuses.append(response.status_code)
        if response.status_code == 429:
            break
        await asyncio.sleep(0.02)
    assert statuses[-1] == 429, statuses
    assert set(statuses[:-1]) == {400}, statuses
    assert_rate_limited(response, budget="reads per IP", limit=10)


async def test_limiter_is_off_for_the_shared_test_app(api):
    """The suite's own app (tests/conftest.py) runs without limits: many callers share 127.0.0.1 there."""
    for _ in range(15):  # past the limited app's read budget
        assert (await api.post(TYPENAME, role="viewer", sub="unlimited")).status_code == 200


async def test_requests_go_through_while_redis_is_down(settings, caplog):
    """Limits need Redis; without it the API stays up, unlimited, and says so in the log (once, not per request)."""
    dead = settings.model_copy(
        update=dict(BUDGETS, rate_limit_enabled=True, query_cost_limit=10, redis_url=f"redis://127.0.0.1:{free_port()}")
    )
    limiter = RateLimiter(dead)
    try:
        with caplog.at_level("WARNING", logger="cms.http.ratelimit"):
            for _ in range(20):  # twice the read budget
                assert await limiter.auth_failed({"client": ("127.0.0.9", 1)}) is None
                assert await limiter.charge_upload({"client": ("127.0.0.9", 1)}) is None
    finally:
        await limiter.aclose()
    assert [r.getMessage() for r in caplog.records] == ["rate limits not applied: Redis is unavailable"]


async def test_cheap_reads_are_charged_in_batches(settings):
    """Reads under 0.1 % of the budget are charged moments later, many in one Redis call (a round trip costs about
    as much as such a read); once the budget is used up the caller is refused without asking Redis, others see
    the budget used up."""
    prefix = f"cms-test-ratelimit:{uuid.uuid4().hex[:12]}"
    batched = settings.model_copy(
        update=dict(rate_limit_enabled=True, rate_reads="200/3 second", query_cost_limit=10, rate_limit_prefix=prefix)
    )
    here, elsewhere = RateLimiter(batched), RateLimiter(batched)
    try:
        assert [here.charge_later("user:batch", "user", 1) for _ in range(250)] == [None] * 250  # decided here
        refusal = await eventually(lambda: here.charge_later("user:batch", "user", 1), what="the batch's refusal")
        assert refusal.message.startswith("rate limit exceeded: reads per user (200 query cost points per 3 seconds)")
        assert (await elsewhere._hit(elsewhere.reads, "user:batch", "user", 1)) is not None
        assert (await elsewhere._hit(elsewhere.reads, "user:someone-else", "user", 1)) is None
    finally:
        await here.aclose()
        await elsewhere.aclose()
