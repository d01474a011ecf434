async def test_health_and_ready(api):
    assert (await api.client.get("/health")).json() == {"status": "ok"}
    ready = await api.client.get("/ready")
    assert ready.status_code == 200 and ready.json()["database"] is True


async def test_editor_creates_and_public_reads_after_publish(api):
    created = await api.data(
        'mutation { createProgram(input: {title: "Night Shift"}) { ... on Program { id slug status } } }', role="editor"
    )
    program = created["createProgram"]
    assert program["slug"] == "night-shift" and program["status"] == "DRAFT"
    anon = await api.data("query($id: ID!) { program(id: $id) { id } }", {"id": program["id"]})
    assert anon["program"] is None
    await api.data(
        "mutation($id: ID!) { publishProgram(id: $id) { __typename } }", {"id": program["id"]}, role="editor"
    )
    anon = await api.data("query($id: ID!) { program(id: $id) { id title } }", {"id": program["id"]})
    assert anon["program"]["title"] == "Night Shift"
