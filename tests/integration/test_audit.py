"""The audit trail: every mutation leaves who, what, when, before and after; only admins read it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.support.api import operation


async def _audit(api, filter: dict | None = None, role: str = "admin") -> list[dict]:
    data = await api.data(operation("AuditEntries"), {"first": 100, "filter": filter}, role=role)
    conn = data["auditEntries"]
    assert conn["totalCount"] == len(conn["edges"])
    return [edge["node"] for edge in conn["edges"]]


async def _me(api, role: str, sub: str | None = None) -> dict:
    return (await api.data(operation("Viewer"), role=role, sub=sub))["viewer"]


async def _mutate(api, name: str, variables: dict, role: str = "editor", sub: str | None = None) -> dict:
    data = await api.data(operation(name), variables, role=role, sub=sub)
    (result,) = data.values()
    return result


async def _counts(api) -> tuple[int, int]:
    """(audit entries, programs) as an admin sees them."""
    audit = (await api.data(operation("AuditEntries"), {"first": 0}, role="admin"))["auditEntries"]["totalCount"]
    programs = (await api.data(operation("Programs"), {"first": 0}, role="admin"))["programs"]["totalCount"]
    return audit, programs


def _assert_when(entry: dict, start: datetime) -> None:
    at = datetime.fromisoformat(entry["at"])
    assert at.tzinfo is not None
    # Same machine's clock; the slack only guards against rounding, it times nothing.
    assert start - timedelta(seconds=5) <= at <= datetime.now(UTC) + timedelta(seconds=5)


async def test_every_mutation_kind_is_audited(api):
    start = datetime.now(UTC)
    editor = await _me(api, "editor")
    viewer = await _me(api, "viewer")

    program = await _mutate(api, "CreateProgram", {"input": {"title": "Before", "tags": ["a"]}})
    pid = program["id"]
    await _mutate(api, "UpdateProgram", {"id": pid, "input": {"title": "After"}})
    await _mutate(api, "PublishProgram", {"id": pid})
    await _mutate(api, "UnpublishProgram", {"id": pid})
    await _mutate(api, "PublishProgram", {"id": pid})
    episode = await _mutate(api, "CreateEpisode", {"input": {"programId": pid, "title": "Ep", "number": 1}})
    eid = episode["id"]
    await _mutate(api, "UpdateEpisode", {"id": eid, "input": {"number": 2}})
    await _mutate(api, "PublishEpisode", {"id": eid})
    await _mutate(api, "UnpublishEpisode", {"id": eid})
    await _mutate(api, "PublishEpisode", {"id": eid})
    comment = await _mutate(
        api, "AddComment", {"input": {"targetId": eid, "body": "nice", "timecode": 4.5}}, role="viewer"
    )
    cid = comment["id"]
    await _mutate(api, "ResolveComment", {"id": cid})
    await _mutate(api, "DeleteComment", {"id": cid}, role="viewer")
    assert (await _mutate(api, "DeleteEpisode", {"id": eid}))["__typename"] == "Deleted"
    assert (await _mutate(api, "DeleteProgram", {"id": pid}))["__typename"] == "Deleted"

    entries = await _audit(api)
    expected = [
        ("program.create", "Program", pid, editor),
        ("program.update", "Program", pid, editor),
        ("program.publish", "Program", pid, editor),
        ("program.unpublish", "Program", pid, editor),
        ("program.publish", "Program", pid, editor),
        ("episode.create", "Episode", eid, editor),
        ("episode.update", "Episode", eid, editor),
        ("episode.publish", "Episode", eid, editor),
        ("episode.unpublish", "Episode", eid, editor),
        ("episode.publish", "Episode", eid, editor),
        ("comment.add", "Comment", cid, viewer),
        ("comment.resolve", "Comment", cid, editor),
        ("comment.delete", "Comment", cid, viewer),
        ("episode.delete", "Episode", eid, editor),
        ("program.delete", "Program", pid, editor),
    ]
    # Newest first.
    got = [(e["action"], e["entityType"], e["entityId"], e["actor"]["id"]) for e in reversed(entries)]
    assert got == [(a, t, i, who["id"]) for a, t, i, who in expected]
    subjects = {e["actor"]["id"]: e["actorSubject"] for e in entries}
    assert subjects == {editor["id"]: "editor-1", viewer["id"]: "viewer-1"}
    assert {e["actor"]["displayName"] for e in entries} == {"Editor One", "Viewer One"}
    ats = [datetime.fromisoformat(e["at"]) for e in entries]
    assert ats == sorted(ats, reverse=True)
    for entry in entries:
        _assert_when(entry, start)
        assert entry["requestId"]
    assert len({e["requestId"] for e in entries}) == len(entries), "each request has its own correlation id"

    by_action = {}
    for entry in reversed(entries):
        by_action.setdefault(entry["action"], entry)
    create, update = by_action["program.create"], by_action["program.update"]
    assert create["before"] is None and create["after"]["title"] == "Before" and create["after"]["tags"] == ["a"]
    assert update["before"]["title"] == "Before" and update["after"]["title"] == "After"
    assert update["before"]["tags"] == update["after"]["tags"] == ["a"]
    publish = by_action["program.publish"]
    assert publish["before"]["status"] == "DRAFT" and publish["after"]["status"] == "PUBLISHED"
    assert publish["before"]["publish_at"] is None and publish["after"]["publish_at"]
    unpublish = by_action["program.unpublish"]
    assert unpublish["before"]["status"] == "PUBLISHED" and unpublish["after"]["status"] == "DRAFT"
    ep_update = by_action["episode.update"]
    assert ep_update["before"]["number"] == 1 and ep_update["after"]["number"] == 2
    add = by_action["comment.add"]
    assert add["before"] is None and add["after"]["body"] == "nice" and add["after"]["timecode"] == 4.5
    resolve = by_action["comment.resolve"]
    assert resolve["before"]["resolved_at"] is None and resolve["after"]["resolved_at"]
    delete = by_action["comment.delete"]
    assert delete["before"]["body"] == "nice" and delete["after"]["deleted_at"]
    for action, title in (("episode.delete", "Ep"), ("program.delete", "After")):
        assert by_action[action]["before"]["title"] == title and by_action[action]["after"] is None


async def test_only_admins_read_the_audit_trail(api):
    await _mutate(api, "CreateProgram", {"input": {"title": "Secret"}})
    for role in (None, "viewer", "editor"):
        body = await api.gql(operation("AuditEntries"), {"first": 10}, role=role)
        assert body["data"] is None, (role, body)
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", (role, body)
    assert len(await _audit(api)) == 1
    # Nor through node(id:).
    entry_id = (await _audit(api))[0]["id"]
    for role in (None, "viewer", "editor"):
        assert (await api.data(operation("Node"), {"id": entry_id}, role=role))["node"] is None
    assert (await api.data(operation("Node"), {"id": entry_id}, role="admin"))["node"] == {
        "__typename": "AuditEntry",
        "id": entry_id,
    }


async def test_filter_by_entity_and_action(api):
    one = await _mutate(api, "CreateProgram", {"input": {"title": "One"}})
    two = await _mutate(api, "CreateProgram", {"input": {"title": "Two"}})
    await _mutate(api, "UpdateProgram", {"id": one["id"], "input": {"title": "One!"}})
    await _mutate(api, "PublishProgram", {"id": one["id"]})
    await _mutate(api, "PublishProgram", {"id": two["id"]})
    episode = await _mutate(api, "CreateEpisode", {"input": {"programId": one["id"], "title": "E"}})

    of_one = await _audit(api, {"entityId": one["id"]})
    assert [e["action"] for e in of_one] == ["program.publish", "program.update", "program.create"]
    assert {e["entityId"] for e in of_one} == {one["id"]}
    assert [e["action"] for e in await _audit(api, {"entityId": episode["id"]})] == ["episode.create"]

    publishes = await _audit(api, {"action": "program.publish"})
    assert [e["entityId"] for e in publishes] == [two["id"], one["id"]]
    assert await _audit(api, {"action": "program.publish", "entityId": two["id"]}) == publishes[:1]
    assert await _audit(api, {"action": "program.delete"}) == []

    editor = await _me(api, "editor")
    assert len(await _audit(api, {"actorId": editor["id"]})) == 6
    other = await _me(api, "editor", sub="editor-2")
    assert await _audit(api, {"actorId": other["id"]}) == []

    body = await api.gql(operation("AuditEntries"), {"filter": {"entityId": "garbage"}}, role="admin")
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_audit_trail_paginates(api):
    program = await _mutate(api, "CreateProgram", {"input": {"title": "Busy"}})
    for i in range(6):
        await _mutate(api, "UpdateProgram", {"id": program["id"], "input": {"description": f"rev {i}"}})
    seen, after = [], None
    while True:
        data = await api.data(operation("AuditEntries"), {"first": 3, "after": after}, role="admin")
        conn = data["auditEntries"]
        assert conn["totalCount"] == 7
        seen += [e["node"]["id"] for e in conn["edges"]]
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) == 7


async def test_failed_mutations_write_no_audit_entry_and_no_row(api):
    program = await _mutate(api, "CreateProgram", {"input": {"title": "Kept", "slug": "kept"}})
    episode = await _mutate(api, "CreateEpisode", {"input": {"programId": program["id"], "title": "E"}})
    baseline = await _counts(api)
    assert baseline == (2, 1)

    failures = [
        ("CreateProgram", {"input": {"title": "   "}}, "editor", "ValidationError"),
        ("CreateProgram", {"input": {"title": "Dup", "slug": "kept"}}, "editor", "ValidationError"),
        ("CreateProgram", {"input": {"title": "Bad", "language": "not a language"}}, "editor", "ValidationError"),
        ("CreateProgram", {"input": {"title": "Nope"}}, "viewer", "ForbiddenError"),
        (
            "UpdateProgram",
            {"id": program["id"], "input": {"title": "Renamed", "language": "!!"}},
            "editor",
            "ValidationError",
        ),
        ("UpdateProgram", {"id": program["id"], "input": {"title": "Renamed"}}, "viewer", "ForbiddenError"),
        (
            "UpdateEpisode",
            {"id": episode["id"], "input": {"title": "Renamed", "number": -1}},
            "editor",
            "ValidationError",
        ),
        ("CreateEpisode", {"input": {"programId": program["id"], "title": ""}}, "editor", "ValidationError"),
        ("PublishProgram", {"id": program["id"]}, "viewer", "ForbiddenError"),
        ("DeleteProgram", {"id": program["id"]}, "viewer", "ForbiddenError"),
        ("DeleteEpisode", {"id": "RXBpc29kZTo5OTk5OTk"}, "editor", "NotFoundError"),
        ("AddComment", {"input": {"targetId": episode["id"], "body": "draft"}}, "viewer", "NotFoundError"),
        (
            "AddComment",
            {"input": {"targetId": episode["id"], "body": "x", "timecode": -1}},
            "editor",
            "ValidationError",
        ),
    ]
    for name, variables, role, typename in failures:
        result = await _mutate(api, name, variables, role=role)
        assert result["__typename"] == typename, (name, variables, result)
        assert await _counts(api) == baseline, (name, variables)

    stored = (await api.data(operation("Program"), {"id": program["id"]}, role="editor"))["program"]
    assert stored["title"] == "Kept" and stored["status"] == "DRAFT"
    assert (await api.data(operation("Episode"), {"id": episode["id"]}, role="editor"))["episode"]["title"] == "E"
    assert [e["action"] for e in await _audit(api)] == ["episode.create", "program.create"]


async def test_deleting_a_program_records_each_episode_deletion(api):
    from cms.core.outbox import OutboxEvent

    program = await _mutate(api, "CreateProgram", {"input": {"title": "Box set"}})
    titles = [f"Part {n}" for n in range(1, 8)]
    for title in titles:
        await _mutate(api, "CreateEpisode", {"input": {"programId": program["id"], "title": title}})
    assert (await _mutate(api, "DeleteProgram", {"id": program["id"]}))["__typename"] == "Deleted"

    deleted = await _audit(api, {"action": "episode.delete"})
    assert sorted(entry["before"]["title"] for entry in deleted) == titles
    assert all(entry["after"] is None for entry in deleted)
    events = await OutboxEvent.filter(kind="episode.delete").values_list("payload", flat=True)
    assert sorted(event["id"] for event in events) == sorted(entry["before"]["id"] for entry in deleted)
    assert len(await _audit(api, {"action": "program.delete"})) == 1
