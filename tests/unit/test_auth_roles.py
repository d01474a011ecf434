from cms.auth.roles import roles_from_claims


def roles(claims, roles_claim=None, role_map=None):
    return roles_from_claims(claims, roles_claim=roles_claim, role_map=role_map or {})


def test_keycloak_realm_roles_by_default():
    claims = {"realm_access": {"roles": ["editor", "offline_access", "uma_authorization"]}}
    assert roles(claims) == {"editor"}


def test_fallback_order_first_present_claim_wins():
    claims = {"realm_access": {"roles": ["viewer"]}, "roles": ["admin"], "groups": ["editor"]}
    assert roles(claims) == {"viewer"}
    assert roles({"roles": ["admin"], "groups": ["editor"]}) == {"admin"}
    assert roles({"groups": ["editor"]}) == {"editor"}


def test_present_but_empty_claim_stops_the_fallback():
    assert roles({"realm_access": {"roles": []}, "roles": ["admin"]}) == frozenset()


def test_realm_access_without_roles_falls_through():
    assert roles({"realm_access": {}, "roles": ["admin"]}) == {"admin"}


def test_explicit_dot_path_for_client_roles():
    claims = {
        "realm_access": {"roles": ["admin"]},
        "resource_access": {"cms": {"roles": ["editor"]}, "other": {"roles": ["admin"]}},
    }
    assert roles(claims, "resource_access.cms.roles") == {"editor"}


def test_explicit_path_missing_gives_no_roles_and_no_fallback():
    assert roles({"roles": ["admin"]}, "resource_access.cms.roles") == frozenset()
    assert roles({"resource_access": "not an object"}, "resource_access.cms.roles") == frozenset()


def test_space_or_comma_separated_string():
    assert roles({"roles": "viewer editor"}) == {"viewer", "editor"}
    assert roles({"roles": "viewer,admin, editor"}) == {"viewer", "admin", "editor"}


def test_non_strings_ignored():
    assert roles({"roles": ["editor", 1, None, {"x": 1}, ["admin"], ""]}) == {"editor"}
    assert roles({"roles": 42}) == frozenset()
    assert roles({"roles": {"admin": True}}) == frozenset()


def test_identity_map_keeps_only_cms_roles():
    assert roles({"roles": ["admin", "Admin", "superuser", "viewer"]}) == {"admin", "viewer"}


def test_role_map_translates_and_drops_unmapped():
    role_map = {"cms-admins": "admin", "cms-editors": "editor"}
    assert roles({"roles": ["cms-editors", "admin", "staff"]}, role_map=role_map) == {"editor"}


def test_role_map_to_unknown_cms_role_is_dropped():
    assert roles({"roles": ["root"]}, role_map={"root": "superuser"}) == frozenset()


def test_keycloak_group_paths_lose_leading_slash():
    assert roles({"groups": ["/editor", "/other"]}) == {"editor"}
    assert roles({"groups": ["/cms-admins"]}, role_map={"cms-admins": "admin"}) == {"admin"}
    assert roles({"groups": ["/cms-admins"]}, role_map={"/cms-admins": "admin"}) == {"admin"}


def test_no_role_claims_at_all():
    assert roles({"sub": "x"}) == frozenset()
