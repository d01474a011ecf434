"""Time-coded comments: viewers post and reply, editors moderate, authors delete their own."""

from __future__ import annotations

import json

from tests.support.api import operation


async def _program(api, title: str, *, publish: bool = True) -> dict:
    result = (await api.data(operation("CreateProgram"), {"input": {"title": title}}, role="editor"))["createProgram"]
    assert result["__typename"] == "Program", result
    if publish:
        await api.data(operation("PublishProgram"), {"id": result["id"]}, role="editor")
    return result


async def _episode(api, program_id: str, title: str, *, publish: bool = True) -> dict:
    variables = {"input": {"programId": program_id, "title": title}}
    result = (await api.data(operation("CreateEpisode"), variables, role="editor"))["createEpisode"]
    assert result["__typename"] == "Episode", result
    if publish:
        await api.data(operation("PublishEpisode"), {"id": result["id"]}, role="editor")
    return result


async def _published_episode(api, title: str = "Pilot") -> dict:
    program = await _program(api, f"Show of {title}")
    return await _episode(api, program["id"], title)


async def _comment(
    api, target_id: str, body: str, *, role: str | None = "viewer", sub: str | None = None, **extra
) -> dict:
    variables = {"input": {"targetId": target_id, "body": body, **extra}}
    return (await api.data(operation("AddComment"), variables, role=role, sub=sub))["addComment"]


async def _thread(api, episode_id: str, role: str | None = "editor") -> dict:
    """The episode's commentCount and comments, as seen by `role`."""
    return (await api.data(operation("EpisodeComments"), {"id": episode_id, "first": 100}, role=role))["episode"]


async def _stored_comments(api, episode_id: str) -> int:
    return (await _thread(api, episode_id, "editor"))["commentCount"]


async def _audit_actions(api) -> list[str]:
    data = await api.data(operation("AuditEntries"), {"first": 100}, role="admin")
    return [edge["node"]["action"] for edge in data["auditEntries"]["edges"]]


async def test_viewer_posts_time_coded_comment_and_reply(api):
    episode = await _published_episode(api)
    me = (await api.data(operation("Viewer"), role="viewer"))["viewer"]
    first = await _comment(api, episode["id"], "  Great opening shot  ", timecode=12.5)
    assert first["__typename"] == "Comment", first
    assert first["body"] == "Great opening shot"
    assert first["timecode"] == 12.5 and first["parentId"] is None and first["resolved"] is False
    assert first["author"] == {"id": me["id"], "displayName": "Viewer One"}

    reply = await _comment(api, episode["id"], "Agreed", sub="viewer-2", timecode=3, parentId=first["id"])
    assert reply["__typename"] == "Comment", reply
    assert reply["parentId"] == first["id"] and reply["timecode"] == 3.0
    untimed = await _comment(api, episode["id"], "General remark")
    assert untimed["__typename"] == "Comment" and untimed["timecode"] is None

    for role in (None, "viewer", "editor"):
        thread = await _thread(api, episode["id"], role)
        assert thread["commentCount"] == 3
        comments = thread["comments"]
        assert comments["totalCount"] == 3
        by_id = {edge["node"]["id"]: edge["node"] for edge in comments["edges"]}
        assert set(by_id) == {first["id"], reply["id"], untimed["id"]}
        assert by_id[reply["id"]]["parentId"] == first["id"]
        assert by_id[first["id"]]["author"]["displayName"] == "Viewer One"
        # Time-coded comments follow the media's timeline.
        timed = [n["timecode"] for n in (e["node"] for e in comments["edges"]) if n["timecode"] is not None]
        assert timed == sorted(timed)
    node = (await api.data(operation("Node"), {"id": reply["id"]}))["node"]
    assert node == {"__typename": "Comment", "id": reply["id"], "body": "Agreed"}


async def test_comments_paginate(api):
    episode = await _published_episode(api)
    posted = [await _comment(api, episode["id"], f"c{i}", timecode=float(i % 4)) for i in range(9)]
    seen, after = [], None
    while True:
        data = await api.data(operation("EpisodeComments"), {"id": episode["id"], "first": 2, "after": after})
        conn = data["episode"]["comments"]
        seen += [edge["node"]["id"] for edge in conn["edges"]]
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) == 9 and set(seen) == {c["id"] for c in posted}


async def test_anonymous_cannot_comment(api):
    episode = await _published_episode(api)
    result = await _comment(api, episode["id"], "hello", role=None, timecode=1.0)
    assert result["__typename"] == "ForbiddenError" and result["message"]
    assert await _stored_comments(api, episode["id"]) == 0
    assert "comment.add" not in await _audit_actions(api)


async def test_commenting_on_hidden_episode_is_not_found_and_writes_nothing(api):
    live = await _program(api, "Live")
    draft_episode = await _episode(api, live["id"], "Draft", publish=False)
    hidden_program = await _program(api, "Hidden", publish=False)
    orphan = await _episode(api, hidden_program["id"], "Orphan")
    for episode in (draft_episode, orphan):
        result = await _comment(api, episode["id"], "sneaky", timecode=1.0)
        assert result["__typename"] == "NotFoundError", result
        assert await _stored_comments(api, episode["id"]) == 0
    # Unknown ids look the same as hidden ones.
    result = await _comment(api, "RXBpc29kZTo5OTk5OTk", "ghost")  # Episode:999999
    assert result["__typename"] == "NotFoundError", result
    assert "comment.add" not in await _audit_actions(api)
    # Editors may comment on drafts (review before publishing).
    review = await _comment(api, draft_episode["id"], "fix the intro", role="editor", timecode=0)
    assert review["__typename"] == "Comment"
    assert await _stored_comments(api, draft_episode["id"]) == 1


async def test_target_must_be_an_episode_or_asset(api):
    program = await _program(api, "Show")
    result = await _comment(api, program["id"], "on a program?")
    assert result["__typename"] == "ValidationError"
    assert result["fields"][0]["path"] == ["input", "targetId"]


async def test_only_editors_resolve(api):
    episode = await _published_episode(api)
    comment = await _comment(api, episode["id"], "typo at 1:02", timecode=62)
    for role in (None, "viewer"):
        result = (await api.data(operation("ResolveComment"), {"id": comment["id"]}, role=role))["resolveComment"]
        assert result["__typename"] == "ForbiddenError", result
    assert not (await _thread(api, episode["id"]))["comments"]["edges"][0]["node"]["resolved"]
    resolved = (await api.data(operation("ResolveComment"), {"id": comment["id"]}, role="editor"))["resolveComment"]
    assert resolved["__typename"] == "Comment" and resolved["resolved"] is True and resolved["resolvedAt"]
    node = (await _thread(api, episode["id"], "viewer"))["comments"]["edges"][0]["node"]
    assert node["resolved"] is True and node["resolvedAt"] == resolved["resolvedAt"]


async def test_delete_rules_author_editor_and_others(api):
    episode = await _published_episode(api)
    mine = await _comment(api, episode["id"], "mine", sub="viewer-a", timecode=1)
    theirs = await _comment(api, episode["id"], "theirs", sub="viewer-b", timecode=2)
    keep = await _comment(api, episode["id"], "keep", sub="viewer-b", timecode=3)
    assert (await _thread(api, episode["id"]))["commentCount"] == 3

    # Another viewer may not delete it; neither may anonymous callers.
    other = (await api.data(operation("DeleteComment"), {"id": mine["id"]}, role="viewer", sub="viewer-b"))[
        "deleteComment"
    ]
    assert other["__typename"] == "ForbiddenError", other
    anon = (await api.data(operation("DeleteComment"), {"id": mine["id"]}))["deleteComment"]
    assert anon["__typename"] == "ForbiddenError", anon
    assert (await _thread(api, episode["id"]))["commentCount"] == 3

    # The author may.
    own = (await api.data(operation("DeleteComment"), {"id": mine["id"]}, role="viewer", sub="viewer-a"))[
        "deleteComment"
    ]
    assert own == {"__typename": "Deleted", "id": mine["id"]}
    # An editor may delete anyone's.
    mod = (await api.data(operation("DeleteComment"), {"id": theirs["id"]}, role="editor"))["deleteComment"]
    assert mod == {"__typename": "Deleted", "id": theirs["id"]}

    for role in (None, "viewer", "editor"):
        thread = await _thread(api, episode["id"], role)
        assert thread["commentCount"] == 1 and thread["comments"]["totalCount"] == 1
        assert [e["node"]["id"] for e in thread["comments"]["edges"]] == [keep["id"]]
    assert (await api.data(operation("Node"), {"id": mine["id"]}, role="editor"))["node"] is None
    # Gone means gone: deleting, resolving or replying to it again is NotFound / invalid.
    again = (await api.data(operation("DeleteComment"), {"id": mine["id"]}, role="viewer", sub="viewer-a"))[
        "deleteComment"
    ]
    assert again["__typename"] == "NotFoundError"
    resolve = (await api.data(operation("ResolveComment"), {"id": mine["id"]}, role="editor"))["resolveComment"]
    assert resolve["__typename"] == "NotFoundError"
    reply = await _comment(api, episode["id"], "late reply", parentId=mine["id"])
    assert reply["__typename"] == "ValidationError" and reply["fields"][0]["path"] == ["input", "parentId"]


async def test_reply_to_parent_on_another_episode_is_invalid(api):
    first = await _published_episode(api, "First")
    second = await _published_episode(api, "Second")
    parent = await _comment(api, first["id"], "parent", timecode=5)
    result = await _comment(api, second["id"], "misplaced reply", parentId=parent["id"], timecode=5)
    assert result["__typename"] == "ValidationError", result
    assert [f["path"] for f in result["fields"]] == [["input", "parentId"]]
    assert await _stored_comments(api, second["id"]) == 0
    # A parent id that is not a comment id at all is also a field problem.
    result = await _comment(api, second["id"], "bad parent", parentId=first["id"])
    assert result["__typename"] == "ValidationError"
    assert [f["path"] for f in result["fields"]] == [["input", "parentId"]]
    assert await _stored_comments(api, second["id"]) == 0


async def test_invalid_timecode_and_body(api):
    episode = await _published_episode(api)
    for timecode in (-0.001, -5, 1e12, 1.7e308):
        result = await _comment(api, episode["id"], "bad time", timecode=timecode)
        assert result["__typename"] == "ValidationError", (timecode, result)
        assert [f["path"] for f in result["fields"]] == [["input", "timecode"]]
    for body in ("", "   ", "x" * 5001):
        result = await _comment(api, episode["id"], body, timecode=1)
        assert result["__typename"] == "ValidationError", (body[:10], result)
        assert [f["path"] for f in result["fields"]] == [["input", "body"]]
    assert await _stored_comments(api, episode["id"]) == 0
    assert "comment.add" not in await _audit_actions(api)


async def test_nan_and_infinite_timecodes_are_refused_without_a_500(api):
    episode = await _published_episode(api)
    token = api.token("viewer")
    query = operation("AddComment").replace("\n", " ")
    for literal in ("NaN", "Infinity", "-Infinity", '"NaN"', '"12s"'):
        # Raw JSON: Python's json accepts NaN/Infinity tokens, so the server must still refuse them.
        raw = '{{"query": {}, "variables": {{"input": {{"targetId": "{}", "body": "x", "timecode": {}}}}}}}'.format(
            json.dumps(query),
            episode["id"],
            literal,
        )
        response = await api.client.post(
            "/graphql", content=raw, headers={"authorization": f"Bearer {token}", "content-type": "application/json"}
        )
        assert response.status_code in (200, 400), (literal, response.status_code, response.text)
        body = response.json()
        result = (body.get("data") or {}).get("addComment")
        assert body.get("errors") or (result and result["__typename"] == "ValidationError"), (literal, body)
    assert await _stored_comments(api, episode["id"]) == 0


async def test_comments_hide_with_their_episode(api):
    episode = await _published_episode(api)
    comment = await _comment(api, episode["id"], "still here?", timecode=7)
    assert (await api.data(operation("Node"), {"id": comment["id"]}))["node"]["body"] == "still here?"
    await api.data(operation("UnpublishEpisode"), {"id": episode["id"]}, role="editor")
    for role in (None, "viewer"):
        assert (await api.data(operation("Node"), {"id": comment["id"]}, role=role))["node"] is None
        assert (await api.data(operation("EpisodeComments"), {"id": episode["id"]}, role=role))["episode"] is None
    assert (await api.data(operation("Node"), {"id": comment["id"]}, role="editor"))["node"]["body"] == "still here?"
    assert (await _thread(api, episode["id"]))["commentCount"] == 1
