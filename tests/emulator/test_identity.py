"""What Salesforce's own clients read first: identity, versions, columns, describe-basic, case, keep-alive.

The Salesforce CLI and jsforce (tests/fidelity) drive these end to end; here each answer is pinned fast.
"""

from __future__ import annotations

import http.client
import json
import ssl
from typing import Any

import requests

from connector.emulator.identity import API_VERSIONS
from connector.emulator.testing import RunningEmulator


def _get(em: RunningEmulator, path: str, token: str | None = None, **params: str) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return em.session().get(em.instance_url + path, params=params, headers=headers)


def _token(em: RunningEmulator) -> dict[str, Any]:
    return em.token()


def test_the_id_url_of_the_token_response_names_the_user_by_header_or_oauth_token(
    emulator: RunningEmulator,
) -> None:
    token = _token(emulator)
    org, user = emulator.org.org_id, emulator.org.user_id
    assert token["id"] == f"{emulator.instance_url}/id/{org}/{user}"
    by_header = emulator.session().get(
        token["id"], headers={"Authorization": f"Bearer {token['access_token']}"}
    )
    by_param = emulator.session().get(
        token["id"], params={"format": "json", "oauth_token": token["access_token"]}
    )
    for response in (by_header, by_param):
        assert response.status_code == 200
        body = response.json()
        assert (body["user_id"], body["organization_id"]) == (user, org)
        assert body["username"] == emulator.username
        assert body["urls"]["rest"] == f"{emulator.instance_url}/services/data/v{{version}}/"
    assert emulator.session().get(token["id"]).status_code == 401
    other = emulator.session().get(
        f"{emulator.instance_url}/id/{org}/005000000000000AAA",
        headers={"Authorization": f"Bearer {token['access_token']}"},
    )
    assert other.status_code == 403


def test_userinfo_then_the_user_record_as_the_cli_reads_them_after_a_login(emulator: RunningEmulator) -> None:
    access = _token(emulator)["access_token"]
    info = _get(emulator, "/services/oauth2/userinfo", access).json()
    assert info["preferred_username"] == emulator.username
    assert info["organization_id"] == emulator.org.org_id
    # The CLI reads the user at a fixed v51.0, whatever the org's newest version.
    user = _get(emulator, f"/services/data/v51.0/sobjects/User/{info['user_id']}", access).json()
    assert user["Username"] == emulator.username
    assert user["attributes"]["type"] == "User"
    assert _get(emulator, "/services/oauth2/userinfo").status_code == 401


def test_the_organization_query_of_the_cli_answers_one_row(emulator: RunningEmulator) -> None:
    sf = emulator.salesforce()
    soql = (
        "SELECT Name, InstanceName, IsSandbox, TrialExpirationDate, NamespacePrefix, OrganizationType "
        "FROM Organization"
    )
    (row,) = sf.query(soql)["records"]
    assert row["OrganizationType"] == "Enterprise Edition"
    assert (row["NamespacePrefix"], row["TrialExpirationDate"], row["IsSandbox"]) == (None, None, True)


def test_versions_resources_and_unknown_versions_answer_404_uncounted(emulator: RunningEmulator) -> None:
    access = _token(emulator)["access_token"]
    versions = _get(emulator, "/services/data", access).json()
    assert [v["version"] for v in versions] == list(API_VERSIONS)
    labels = {v["version"]: v["label"] for v in versions}
    assert (labels["59.0"], labels["60.0"], labels["61.0"]) == ("Winter '24", "Spring '24", "Summer '24")
    resources = _get(emulator, "/services/data/v59.0", access).json()
    assert resources["identity"] == _token(emulator)["id"]
    assert resources["sobjects"] == "/services/data/v59.0/sobjects"
    used = emulator.org.api_used
    for path in ("/services/data/v99.0", "/services/data/v20.0/query", "/services/data/v99.0/limits"):
        response = _get(emulator, path, access, q="SELECT Id FROM Contact")
        assert response.status_code == 404, path
        assert response.json() == [
            {"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}
        ]
    assert emulator.org.api_used == used


def test_columns_true_describes_the_selected_columns_without_running_the_query(
    emulator: RunningEmulator,
) -> None:
    access = _token(emulator)["access_token"]
    soql = "select id, lastname, account.name, account.id from contact where lastname != null"
    body = _get(emulator, "/services/data/v59.0/query", access, q=soql, columns="true").json()
    assert (body["entityName"], body["keyPrefix"], body["idSelected"]) == ("Contact", "003", True)
    assert "records" not in body
    columns = body["columnMetadata"]
    assert [c["columnName"] for c in columns] == ["Id", "LastName", "Account"]
    assert (columns[0]["apexType"], columns[1]["apexType"], columns[1]["textType"]) == ("Id", "String", True)
    account = columns[2]
    assert [(c["columnName"], c["displayName"]) for c in account["joinColumns"]] == [
        ("Name", "Account.Name"),
        ("Id", "Account.Id"),
    ]
    count = _get(
        emulator, "/services/data/v59.0/query", access, q="SELECT COUNT() FROM Contact", columns="true"
    )
    assert count.json()["columnMetadata"] == []
    bad = _get(
        emulator, "/services/data/v59.0/query", access, q="SELECT Nope__c FROM Contact", columns="true"
    )
    assert (bad.status_code, bad.json()[0]["errorCode"]) == (400, "INVALID_FIELD")
    emulator.org.access.hide("Contact", "Email")  # field-level security applies as in the query itself
    soql = "SELECT Email FROM Contact"
    hidden = _get(emulator, "/services/data/v59.0/query", access, q=soql, columns="true")
    assert (hidden.status_code, hidden.json()[0]["errorCode"]) == (400, "INVALID_FIELD")


def test_get_on_an_sobject_is_describe_basic_and_a_wrong_method_names_the_allowed_ones(
    emulator: RunningEmulator,
) -> None:
    access = _token(emulator)["access_token"]
    basic = _get(emulator, "/services/data/v59.0/sobjects/contact", access).json()
    assert basic["objectDescribe"]["name"] == "Contact"
    assert basic["objectDescribe"]["urls"]["describe"] == "/services/data/v59.0/sobjects/Contact/describe"
    assert basic["recentItems"] == []
    refused = emulator.session().delete(
        emulator.instance_url + "/services/data/v59.0/sobjects/Contact",
        headers={"Authorization": f"Bearer {access}"},
    )
    assert refused.status_code == 405
    assert refused.json()[0]["message"] == "HTTP Method 'DELETE' not allowed. Allowed are GET,POST"


def test_collections_read_field_names_case_insensitively(emulator: RunningEmulator) -> None:
    sf = emulator.salesforce()
    first = emulator.org.create("Contact", {"LastName": "Jansen"})
    second = emulator.org.create("Contact", {"LastName": "Bakker"})
    records = [
        {"attributes": {"type": "Contact"}, "id": first, "lastname": "Janssen"},
        {"attributes": {"type": "Contact"}, "ID": second, "FIRSTNAME": "Eva"},
        {"attributes": {"type": "Contact"}, "id": "003000000000000AAA", "LastName": "Ghost"},
    ]
    results = sf.restful("composite/sobjects", method="PATCH", data=json.dumps({"records": records}))
    assert [r["success"] for r in results] == [True, True, False]
    assert results[2]["id"] == "003000000000000AAA"
    assert emulator.org.record("Contact", first)["LastName"] == "Janssen"  # type: ignore[index]
    assert emulator.org.record("Contact", second)["FirstName"] == "Eva"  # type: ignore[index]
    create = [{"attributes": {"type": "Contact"}, "id": first, "LastName": "Copy"}]
    refused = sf.restful("composite/sobjects", method="POST", data=json.dumps({"records": create}))
    assert refused[0]["errors"][0]["statusCode"] == "INVALID_FIELD"
    soql = f"select id, lastname from CONTACT where LASTNAME = 'Janssen' and Id = '{first}'"  # noqa: S608 - our id
    rows = sf.query(soql)
    assert [(r["Id"], r["LastName"]) for r in rows["records"]] == [(first, "Janssen")]


def _connection(em: RunningEmulator) -> http.client.HTTPSConnection:
    context = ssl.create_default_context(cafile=str(em.ca_bundle))
    port = int(em.instance_url.rpartition(":")[2])
    return http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)


def _served_peers(em: RunningEmulator) -> set[Any]:
    """The client ends of the connections the server holds open."""
    server = em.server._server
    assert server is not None
    return {c.getpeername() for c in list(server.open_connections)}


def test_two_requests_reuse_one_kept_alive_connection(emulator: RunningEmulator) -> None:
    access = _token(emulator)["access_token"]
    auth = {"Authorization": f"Bearer {access}"}
    conn = _connection(emulator)
    # An unread request body (a 404 that never looks at it) must not spill into the next request.
    conn.request("POST", "/services/data/v59.0/nowhere", body=b'{"ignored": true}', headers=auth)
    first = conn.getresponse()
    assert (first.status, first.getheader("Connection")) == (404, None)
    first.read()
    sock = conn.sock
    assert sock is not None
    ours = sock.getsockname()
    conn.request("GET", "/services/data/v59.0/limits", headers=auth)
    second = conn.getresponse()
    assert second.status == 200
    assert int(second.getheader("Content-Length")) == len(second.read())
    assert conn.sock is sock  # the same TCP connection carried both, and the server still holds it
    assert ours in _served_peers(emulator)
    # A chunked body (how the CLI uploads bulk CSV) is read whole, and the connection still stays in step.
    conn.putrequest("POST", "/services/data/v59.0/sobjects/Account")
    for name, value in {**auth, "Content-Type": "application/json", "Transfer-Encoding": "chunked"}.items():
        conn.putheader(name, value)
    conn.endheaders()
    for piece in (b'{"Name": ', b'"Chunked BV"}'):
        conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
    conn.send(b"0\r\n\r\n")
    created = conn.getresponse()
    assert created.status == 201, created.read()
    new_id = json.loads(created.read())["id"]
    assert emulator.org.record("Account", new_id)["Name"] == "Chunked BV"  # type: ignore[index]
    conn.request("GET", "/services/data/v59.0/limits", headers={**auth, "Connection": "close"})
    last = conn.getresponse()
    assert (last.status, last.getheader("Connection")) == (200, "close")
    last.read()
    conn.close()


def test_stopping_the_server_ends_kept_alive_connections(tmp_path: Any) -> None:
    from connector.emulator.testing import running_emulator

    with running_emulator(state_dir=tmp_path / "emu") as em:
        access = em.token()["access_token"]
        conn = _connection(em)
        conn.request("GET", "/services/data/v59.0/limits", headers={"Authorization": f"Bearer {access}"})
        conn.getresponse().read()
        sock = conn.sock
    assert sock is not None
    assert sock.recv(1) == b""  # the server closed it: a pooled client reconnects instead of hanging
    conn.close()


def test_an_org_saved_before_it_had_a_user_gets_one_on_load(tmp_path: Any) -> None:
    from connector.emulator.org import Emulator

    state = tmp_path / "org.json"
    Emulator(state_file=state).save()
    data = json.loads(state.read_text())
    data["rows"].pop("User")
    state.write_text(json.dumps(data))
    org = Emulator(state_file=state)
    assert org.user_id.startswith("005")
    assert org.records("User")[0]["Username"] == org.settings.username
    org.save()
    assert Emulator(state_file=state).user_id == org.user_id  # saved once, kept from then on


def test_a_request_sent_before_the_previous_answer_is_not_swallowed(emulator: RunningEmulator) -> None:
    """Two requests sent at once (as a pipelining client does) get two answers, in order.

    (The kept-alive test above is the one that catches werkzeug's post-response drain eating a request
    sent right after an answer.)"""
    access = _token(emulator)["access_token"]
    head = "GET /services/data/v59.0/limits HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    request = f"{head}Authorization: Bearer {access}\r\n\r\n".encode()
    conn = _connection(emulator)
    conn.connect()
    assert conn.sock is not None
    conn.sock.sendall(request + request)  # both at once, as a pipelining client sends them
    reader = conn.sock.makefile("rb")  # one buffered reader for both answers
    answers = []
    for _ in range(2):
        status = int(reader.readline().split()[1])
        headers = {}
        while (line := reader.readline().strip()) != b"":
            name, _, value = line.decode().partition(":")
            headers[name.lower()] = value.strip()
        body = json.loads(reader.read(int(headers["content-length"])))
        answers.append((status, body["DailyApiRequests"]["Max"]))
    assert answers == [(200, 100_000), (200, 100_000)]
    reader.close()
    conn.close()
