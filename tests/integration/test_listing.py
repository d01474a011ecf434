"""Connections: cursor pagination, ordering and filters for programs, episodes and program.episodes."""

from __future__ import annotations

from tests.support.api import operation


async def _program(api, title: str, *, publish_at: str | None = None, publish: bool = True, **fields) -> dict:
    result = (await api.data(operation("CreateProgram"), {"input": {"title": title, **fields}}, role="editor"))[
        "createProgram"
    ]
    assert result["__typename"] == "Program", result
    if publish:
        published = await api.data(operation("PublishProgram"), {"id": result["id"], "at": publish_at}, role="editor")
        assert published["publishProgram"]["__typename"] == "Program", published
    return result


async def _episode(
    api, program_id: str, title: str, *, publish_at: str | None = None, publish: bool = True, **fields
) -> dict:
    variables = {"input": {"programId": program_id, "title": title, **fields}}
    result = (await api.data(operation("CreateEpisode"), variables, role="editor"))["createEpisode"]
    assert result["__typename"] == "Episode", result
    if publish:
        published = await api.data(operation("PublishEpisode"), {"id": result["id"], "at": publish_at}, role="editor")
        assert published["publishEpisode"]["__typename"] == "Episode", published
    return result


async def _walk(api, op: str, root: str, *, first: int, role: str | None = None, **variables) -> list[dict]:
    """Every page of a connection, in order; checks pageInfo and totalCount on each page."""
    pages, after = [], None
    while True:
        data = await api.data(operation(op), {**variables, "first": first, "after": after}, role=role)
        conn = data[root] if root != "program.episodes" else data["program"]["episodes"]
        pages.append(conn)
        assert len(conn["edges"]) <= first
        if conn["edges"]:
            assert conn["pageInfo"]["endCursor"] == conn["edges"][-1]["cursor"]
        if not conn["pageInfo"]["hasNextPage"]:
            return pages
        assert len(conn["edges"]) == first
        after = conn["pageInfo"]["endCursor"]
        assert len(pages) < 50, "pagination does not terminate"


def _nodes(pages: list[dict]) -> list[dict]:
    return [edge["node"] for page in pages for edge in page["edges"]]


def _titles(conn: dict) -> list[str]:
    return [edge["node"]["title"] for edge in conn["edges"]]


async def test_cursor_pagination_walks_every_program_once(api):
    created = [await _program(api, f"Program {i:02d}") for i in range(25)]
    for role in (None, "editor"):
        pages = await _walk(api, "Programs", "programs", first=10, role=role)
        assert [len(page["edges"]) for page in pages] == [10, 10, 5]
        assert [page["totalCount"] for page in pages] == [25, 25, 25]
        ids = [node["id"] for node in _nodes(pages)]
        assert len(ids) == len(set(ids)) == 25
        # Default order: newest first.
        assert ids == [p["id"] for p in reversed(created)]


async def test_pagination_with_ties_and_nulls_neither_skips_nor_repeats(api):
    """Equal sort values (same title) and NULLs (drafts have no publishAt) must still page exactly once."""
    for i in range(7):
        await _program(api, "Same Title", slug=f"same-{i}", publish_at=f"2020-01-0{1 + i % 3}T00:00:00+00:00")
    for i in range(4):
        await _program(api, "Same Title", slug=f"draft-{i}", publish=False)
    expected = await api.data(operation("Programs"), {"first": 100}, role="editor")
    all_ids = {e["node"]["id"] for e in expected["programs"]["edges"]}
    assert len(all_ids) == 11
    for field in ("TITLE", "PUBLISH_AT", "CREATED_AT"):
        for direction in ("ASC", "DESC"):
            for first in (1, 2, 3):
                order = {"field": field, "direction": direction}
                pages = await _walk(api, "Programs", "programs", first=first, role="editor", orderBy=order)
                ids = [n["id"] for n in _nodes(pages)]
                assert len(ids) == len(set(ids)) and set(ids) == all_ids, (field, direction, first)
                if field == "PUBLISH_AT":
                    stamps = [n["publishAt"] for n in _nodes(pages)]
                    dated = [s for s in stamps if s is not None]
                    assert dated == sorted(dated, reverse=direction == "DESC")
                    # PostgreSQL order: NULLs last ascending, first descending.
                    nulls = [s is None for s in stamps]
                    assert nulls == sorted(nulls, reverse=direction == "DESC")


async def test_programs_order_by_title_publish_at_and_created_at(api):
    specs = [
        ("Delta", "2021-04-01"),
        ("Alpha", "2021-02-01"),
        ("Echo", "2021-01-01"),
        ("Charlie", "2021-05-01"),
        ("Bravo", "2021-03-01"),
    ]
    for title, day in specs:
        await _program(api, title, publish_at=f"{day}T12:00:00+00:00")

    async def titles(order: dict) -> list[str]:
        return _titles((await api.data(operation("Programs"), {"first": 10, "orderBy": order}))["programs"])

    assert await titles({"field": "TITLE", "direction": "ASC"}) == ["Alpha", "Bravo", "Charlie", "Delta", "Echo"]
    assert await titles({"field": "TITLE", "direction": "DESC"}) == ["Echo", "Delta", "Charlie", "Bravo", "Alpha"]
    assert await titles({"field": "PUBLISH_AT", "direction": "ASC"}) == ["Echo", "Alpha", "Bravo", "Delta", "Charlie"]
    assert await titles({"field": "PUBLISH_AT", "direction": "DESC"}) == ["Charlie", "Delta", "Bravo", "Alpha", "Echo"]
    assert await titles({"field": "CREATED_AT", "direction": "ASC"}) == [t for t, _ in specs]
    assert await titles({"field": "CREATED_AT", "direction": "DESC"}) == [t for t, _ in reversed(specs)]
    assert await titles({"field": "CREATED_AT"}) == [t for t, _ in reversed(specs)]


async def test_episodes_order_by_number_title_and_publish_at(api):
    program = await _program(api, "Series")
    specs = [
        ("Gamma", 3, "2022-01-03"),
        ("Alpha", 1, "2022-01-02"),
        ("Beta", 2, "2022-01-01"),
        ("Zeta", None, "2022-01-04"),
    ]
    for title, number, day in specs:
        await _episode(api, program["id"], title, number=number, publish_at=f"{day}T00:00:00+00:00")

    async def titles(order: dict, first: int = 10) -> list[str]:
        pages = await _walk(api, "Episodes", "episodes", first=first, orderBy=order)
        return [n["title"] for n in _nodes(pages)]

    for first in (1, 10):
        # NULL numbers sort last ascending and first descending (PostgreSQL's default).
        assert await titles({"field": "NUMBER", "direction": "ASC"}, first) == ["Alpha", "Beta", "Gamma", "Zeta"]
        assert await titles({"field": "NUMBER", "direction": "DESC"}, first) == ["Zeta", "Gamma", "Beta", "Alpha"]
        assert await titles({"field": "TITLE", "direction": "ASC"}, first) == ["Alpha", "Beta", "Gamma", "Zeta"]
        assert await titles({"field": "TITLE", "direction": "DESC"}, first) == ["Zeta", "Gamma", "Beta", "Alpha"]
        assert await titles({"field": "PUBLISH_AT", "direction": "ASC"}, first) == ["Beta", "Alpha", "Gamma", "Zeta"]
        assert await titles({"field": "CREATED_AT", "direction": "ASC"}, first) == [t for t, _, _ in specs]


async def test_program_filters_category_language_tags(api):
    news = await _program(api, "World News", category="news", language="en", tags=["News", "Politics"])
    local = await _program(api, "Local News", category="news", language="fa-IR", tags=["news"])
    sport = await _program(api, "Match Day", category="sport", language="en", tags=["Sports"])
    await _program(api, "Hidden News", category="news", language="en", tags=["news", "politics"], publish=False)

    async def ids(filter: dict, role: str | None = None) -> set[str]:
        conn = (await api.data(operation("Programs"), {"first": 50, "filter": filter}, role=role))["programs"]
        assert conn["totalCount"] == len(conn["edges"])
        return {e["node"]["id"] for e in conn["edges"]}

    assert await ids({"category": "news"}) == {news["id"], local["id"]}
    assert await ids({"category": "sport"}) == {sport["id"]}
    assert await ids({"category": "cooking"}) == set()
    assert await ids({"language": "en"}) == {news["id"], sport["id"]}
    assert await ids({"language": "fa-IR"}) == {local["id"]}
    # Tags: all must match, case-insensitive.
    assert await ids({"tags": ["NEWS"]}) == {news["id"], local["id"]}
    assert await ids({"tags": ["news", "POLITICS"]}) == {news["id"]}
    assert await ids({"tags": ["news", "sports"]}) == set()
    assert await ids({"category": "news", "language": "en", "tags": ["Politics"]}) == {news["id"]}
    assert len(await ids({"tags": ["politics"]}, role="editor")) == 2
    tags = (await api.data(operation("Program"), {"id": news["id"]}))["program"]
    assert tags["id"] == news["id"]


async def test_program_filter_by_publish_date_range(api):
    p2021 = await _program(api, "Old", publish_at="2021-01-01T00:00:00+00:00")
    p2022 = await _program(api, "Middle", publish_at="2022-01-01T00:00:00+00:00")
    p2023 = await _program(api, "Recent", publish_at="2023-01-01T00:00:00+00:00")

    async def ids(filter: dict) -> set[str]:
        conn = (await api.data(operation("Programs"), {"first": 50, "filter": filter}))["programs"]
        assert conn["totalCount"] == len(conn["edges"])
        return {e["node"]["id"] for e in conn["edges"]}

    assert await ids({"publishedAfter": "2021-06-01T00:00:00Z"}) == {p2022["id"], p2023["id"]}
    assert await ids({"publishedBefore": "2022-06-01T00:00:00Z"}) == {p2021["id"], p2022["id"]}
    assert await ids({"publishedAfter": "2021-06-01T00:00:00Z", "publishedBefore": "2022-06-01T00:00:00Z"}) == {
        p2022["id"]
    }
    assert await ids({"publishedAfter": "2024-01-01T00:00:00Z"}) == set()
    # A time without a zone is taken as UTC.
    assert await ids({"publishedAfter": "2022-12-31T23:00:00"}) == {p2023["id"]}


async def test_episode_filters(api):
    news = await _program(api, "World News", category="news", language="en", tags=["News", "Politics"])
    sport = await _program(api, "Match Day", category="sport", language="de", tags=["sports"])
    n1 = await _episode(api, news["id"], "N1", season=1, number=1, publish_at="2021-01-01T00:00:00+00:00")
    n2 = await _episode(api, news["id"], "N2", season=1, number=2, publish_at="2022-01-01T00:00:00+00:00")
    n3 = await _episode(api, news["id"], "N3", season=2, number=1, publish_at="2023-01-01T00:00:00+00:00")
    s1 = await _episode(api, sport["id"], "S1", season=1, number=1, publish_at="2022-06-01T00:00:00+00:00")

    async def ids(filter: dict) -> set[str]:
        conn = (await api.data(operation("Episodes"), {"first": 50, "filter": filter}))["episodes"]
        assert conn["totalCount"] == len(conn["edges"])
        return {e["node"]["id"] for e in conn["edges"]}

    assert await ids({"programId": news["id"]}) == {n1["id"], n2["id"], n3["id"]}
    assert await ids({"programId": sport["id"]}) == {s1["id"]}
    assert await ids({"programId": news["id"], "season": 1}) == {n1["id"], n2["id"]}
    assert await ids({"season": 1}) == {n1["id"], n2["id"], s1["id"]}
    assert await ids({"season": 2}) == {n3["id"]}
    assert await ids({"category": "sport"}) == {s1["id"]}
    assert await ids({"language": "en"}) == {n1["id"], n2["id"], n3["id"]}
    assert await ids({"tags": ["POLITICS", "news"]}) == {n1["id"], n2["id"], n3["id"]}
    assert await ids({"tags": ["Sports"]}) == {s1["id"]}
    assert await ids({"tags": ["sports", "news"]}) == set()
    assert await ids({"publishedAfter": "2021-06-01T00:00:00Z", "publishedBefore": "2022-12-01T00:00:00Z"}) == {
        n2["id"],
        s1["id"],
    }
    assert await ids({"programId": news["id"], "publishedAfter": "2021-06-01T00:00:00Z"}) == {n2["id"], n3["id"]}


async def test_episode_filter_program_id_must_be_a_program_id(api):
    program = await _program(api, "Show")
    episode = await _episode(api, program["id"], "E1")
    body = await api.gql(operation("Episodes"), {"filter": {"programId": episode["id"]}})
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_program_episodes_connection(api):
    program = await _program(api, "Long Series")
    other = await _program(api, "Other Series")
    for n in range(12):
        await _episode(api, program["id"], f"Episode {n:02d}", number=n + 1, season=1 + n // 6)
    await _episode(api, other["id"], "Elsewhere", number=1)

    order = {"field": "NUMBER", "direction": "ASC"}
    pages = await _walk(api, "ProgramEpisodes", "program.episodes", first=5, id=program["id"], orderBy=order)
    assert [len(p["edges"]) for p in pages] == [5, 5, 2]
    assert all(p["totalCount"] == 12 for p in pages)
    assert [n["number"] for n in _nodes(pages)] == list(range(1, 13))

    data = await api.data(
        operation("ProgramEpisodes"), {"id": program["id"], "first": 10, "filter": {"season": 2}, "orderBy": order}
    )
    conn = data["program"]["episodes"]
    assert conn["totalCount"] == 6 and [e["node"]["number"] for e in conn["edges"]] == [7, 8, 9, 10, 11, 12]
    # The program scopes the list even when the filter names another program.
    data = await api.data(
        operation("ProgramEpisodes"), {"id": program["id"], "first": 50, "filter": {"programId": other["id"]}}
    )
    assert data["program"]["episodes"]["totalCount"] == 12


async def test_cursor_from_another_ordering_is_a_clear_error(api):
    for i in range(3):
        await _program(api, f"P{i}")
    page = (await api.data(operation("Programs"), {"first": 1, "orderBy": {"field": "TITLE", "direction": "ASC"}}))[
        "programs"
    ]
    cursor = page["pageInfo"]["endCursor"]
    assert cursor
    for order in (
        {"field": "TITLE", "direction": "DESC"},
        {"field": "CREATED_AT"},
        {"field": "PUBLISH_AT", "direction": "ASC"},
    ):
        body = await api.gql(operation("Programs"), {"first": 1, "after": cursor, "orderBy": order})
        assert body["data"] is None, body
        error = body["errors"][0]
        assert error["extensions"]["code"] == "BAD_USER_INPUT", error
        assert "cursor" in error["message"]
    # Same for episodes, and for junk.
    program = await _program(api, "Eps")
    for n in range(3):
        await _episode(api, program["id"], f"E{n}", number=n)
    ep_page = (await api.data(operation("Episodes"), {"first": 1, "orderBy": {"field": "NUMBER", "direction": "ASC"}}))[
        "episodes"
    ]
    body = await api.gql(
        operation("Episodes"), {"first": 1, "after": ep_page["pageInfo"]["endCursor"], "orderBy": {"field": "TITLE"}}
    )
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    # A cursor from another list with the same ordering name (CREATED_AT_DESC) is refused, not misapplied.
    program_cursor = (await api.data(operation("Programs"), {"first": 1}))["programs"]["pageInfo"]["endCursor"]
    body = await api.gql(operation("Episodes"), {"first": 5, "after": program_cursor})
    assert body["data"] is None and body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body
    episode_cursor = (await api.data(operation("Episodes"), {"first": 1}))["episodes"]["pageInfo"]["endCursor"]
    body = await api.gql(operation("Programs"), {"first": 5, "after": episode_cursor})
    assert body["data"] is None and body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body
    for junk in ("not-a-cursor", "", "eyJ4Ijox", "W10", "x" * 2000):
        body = await api.gql(operation("Programs"), {"first": 1, "after": junk})
        if junk == "":
            # An empty cursor means "from the start".
            assert not body.get("errors"), body
            continue
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", (junk, body)


async def test_first_bounds(api):
    for i in range(3):
        await _program(api, f"P{i}")
    zero = (await api.data(operation("Programs"), {"first": 0}))["programs"]
    assert zero["edges"] == [] and zero["totalCount"] == 3
    for first in (-1, 101):
        body = await api.gql(operation("Programs"), {"first": first})
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body
