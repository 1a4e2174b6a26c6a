"""Who is logged in, and which API this org speaks: versions, resources, userinfo, the identity URL.

Salesforce's own clients start here: the CLI reads `/services/oauth2/userinfo` and the `User` record
after a login, jsforce's `identity()` follows the `identity` resource of `/services/data/vXX.X` to the
`id` URL of the token response (`/id/{orgId}/{userId}`), which also accepts the token as an
`oauth_token` query parameter. A version the org does not serve answers 404, as a real org does.
"""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request, Response

from connector.emulator.org import Emulator
from connector.emulator.values import format_datetime
from connector.emulator.wire import ApiError, json_response

# What a current org serves: v31.0 (the oldest after the Summer '25 retirement) up to the newest.
API_VERSIONS = tuple(f"{v}.0" for v in range(31, 65))
_V = r"/services/data/v(?P<ver>\d+\.\d)"
_RESOURCES = (
    "tooling", "metadata", "eclair", "folders", "prechatForms", "contact-tracing", "jsonxform", "chatter",
    "tabs", "appMenu", "quickActions", "queryAll", "commerce", "wave", "iot", "analytics", "search",
    "identity", "composite", "parameterizedSearch", "fingerprint", "theme", "nouns", "recent", "licensing",
    "limits", "async-queries", "query", "emailConnect", "compactLayouts", "knowledgeManagement",
    "sobjects", "actions", "support", "jobs",
)  # fmt: skip


def check_version(ver: str) -> None:
    """404 NOT_FOUND for an API version the org does not serve."""
    if ver not in API_VERSIONS:
        raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")


def get_versions(emu: Emulator, request: Request, params: dict[str, str]) -> Response:
    """`GET /services/data`: the API versions this org speaks, oldest first."""
    return json_response(
        [{"label": _label(v), "url": f"/services/data/v{v}", "version": v} for v in API_VERSIONS]
    )


def _label(version: str) -> str:
    """Release name of an API version: 59.0 is Winter '24, 60.0 Spring '24, 61.0 Summer '24."""
    v = int(float(version))
    return f"{('Spring', 'Summer', 'Winter')[v % 3]} '{(v + 1) // 3 + 4:02d}"


def get_resources(emu: Emulator, request: Request, params: dict[str, str]) -> Response:
    """`GET /services/data/vXX.X`: the resources of one version; `identity` is the id URL."""
    ver = params["ver"]
    body = {name: f"/services/data/v{ver}/{name}" for name in _RESOURCES}
    body["identity"] = identity_url(emu)
    return json_response(body)


def identity_url(emu: Emulator) -> str:
    """The id URL of the integration user, as in the token response."""
    return f"{emu.base_url}/id/{emu.org_id}/{emu.user_id}"


def _user(emu: Emulator) -> dict[str, Any]:
    row = emu.store.rows["User"][emu.user_id]
    return dict(row)


def _urls(emu: Emulator) -> dict[str, str]:
    base, org = emu.base_url, emu.org_id
    return {
        "enterprise": f"{base}/services/Soap/c/{{version}}/{org[:15]}",
        "metadata": f"{base}/services/Soap/m/{{version}}/{org[:15]}",
        "partner": f"{base}/services/Soap/u/{{version}}/{org[:15]}",
        "rest": f"{base}/services/data/v{{version}}/",
        "sobjects": f"{base}/services/data/v{{version}}/sobjects/",
        "search": f"{base}/services/data/v{{version}}/search/",
        "query": f"{base}/services/data/v{{version}}/query/",
        "recent": f"{base}/services/data/v{{version}}/recent/",
        "tooling_soap": f"{base}/services/Soap/T/{{version}}/{org[:15]}",
        "tooling_rest": f"{base}/services/data/v{{version}}/tooling/",
        "profile": f"{base}/{emu.user_id[:15]}",
        "custom_domain": base,
    }


def userinfo(emu: Emulator, request: Request, params: dict[str, str]) -> Response:
    """`GET /services/oauth2/userinfo`: the OpenID Connect claims of the logged-in user."""
    user = _user(emu)
    return json_response({
        "sub": identity_url(emu), "user_id": user["Id"], "organization_id": emu.org_id,
        "preferred_username": user["Username"], "nickname": user["Alias"], "name": user["Name"],
        "email": user["Email"], "email_verified": True, "given_name": user["FirstName"],
        "family_name": user["LastName"], "zoneinfo": user["TimeZoneSidKey"], "active": user["IsActive"],
        "user_type": user["UserType"], "language": user["LanguageLocaleKey"],
        "locale": user["LocaleSidKey"], "utcOffset": 3600000, "urls": _urls(emu),
        "updated_at": format_datetime(user["LastModifiedDate"]), "is_app_installed": True,
    })  # fmt: skip


def identity(emu: Emulator, request: Request, params: dict[str, str]) -> Response:
    """`GET /id/{orgId}/{userId}`: the identity service's record of the user."""
    user = _user(emu)
    if params["org"] not in (emu.org_id, emu.org_id[:15]) or params["user"] not in (
        user["Id"],
        user["Id"][:15],
    ):
        raise ApiError(403, "FORBIDDEN", "Bad_Id")
    return json_response({
        "id": identity_url(emu), "asserted_user": True, "user_id": user["Id"],
        "organization_id": emu.org_id, "username": user["Username"], "nick_name": user["Alias"],
        "display_name": user["Name"], "email": user["Email"], "email_verified": True,
        "first_name": user["FirstName"], "last_name": user["LastName"],
        "timezone": user["TimeZoneSidKey"], "active": user["IsActive"], "user_type": user["UserType"],
        "language": user["LanguageLocaleKey"], "locale": user["LocaleSidKey"], "utcOffset": 3600000,
        "last_modified_date": format_datetime(user["LastModifiedDate"]), "is_app_installed": True,
        "urls": _urls(emu),
    })  # fmt: skip


ROUTES = [
    ("GET", "/services/data", "versions", get_versions),
    ("GET", _V, "resources", get_resources),
    ("GET", "/services/oauth2/userinfo", "userinfo", userinfo),
    ("GET", r"/id/(?P<org>\w{15,18})/(?P<user>\w{15,18})", "identity", identity),
]
