"""The workbench pages over HTTP: sign-in, sessions, CSRF, project isolation, forms kept on errors."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from webkit import PASSWORD, make_project, queue

from statcoder.api.app import create_app
from statcoder.service import accounts
from statcoder.service.settings import ServiceSettings
from statcoder.store.workbench_tables import TaskDecision, WebSession


@pytest.fixture
def app_client(db_url, tmp_path, model_dir):
    settings = ServiceSettings(data_dir=tmp_path / "data", database_url=db_url)
    app = create_app(settings, start_worker=False)
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as client:
        ctx = app.state.context
        make_project(ctx, "alpha", tmp_path / "cls-a", model_dir)
        make_project(ctx, "beta", tmp_path / "cls-b", model_dir)
        yield client, ctx


@pytest.fixture
def settings_env(app_client, tmp_path, db_url):
    """The admin commands' options that reach the app_client's store."""
    return ["--data-dir", str(tmp_path / "data"), "--database-url", db_url]


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def sign_in(client, username: str, password: str = PASSWORD):
    page = client.get("/ui/login")
    token = re.search(r'name="login_csrf" value="([^"]+)"', page.text).group(1)
    return client.post("/ui/login", data={"username": username, "password": password, "login_csrf": token,
                                          "next": "/ui/projects"})


def test_sign_in_sets_a_strict_http_only_cookie_and_sign_out_ends_the_session(app_client):
    client, ctx = app_client
    accounts.create_account(ctx, "alpha", username="ana", password=PASSWORD, role="coder", actor="t")
    assert client.get("/ui/projects").status_code == 303  # not signed in: to the sign-in page
    wrong = sign_in(client, "ana", "not the password")
    assert wrong.status_code == 401 and "wrong user name or password" in wrong.text
    assert 'value="ana"' in wrong.text  # the form comes back filled (never the password)
    ok = sign_in(client, "ana")
    assert ok.status_code == 303
    cookie = ok.headers["set-cookie"]
    assert "sc_session=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    page = client.get("/ui/projects")
    assert page.status_code == 200 and "ALPHA" in page.text and "BETA" not in page.text
    with ctx.db.read() as session:
        stored = session.scalars(select(WebSession)).all()
    assert len(stored) == 1 and stored[0].token_hash not in cookie  # only a hash is stored
    assert client.post("/ui/logout", data={"csrf": _csrf(page.text)}).status_code == 303
    assert client.get("/ui/projects").status_code == 303


def test_a_form_without_the_csrf_token_is_refused_and_nothing_is_stored(app_client):
    client, ctx = app_client
    project = __import__("statcoder.service.projects", fromlist=["get_project"]).get_project(ctx, "alpha")
    (task_id,) = queue(ctx, project, ["bread oven"])
    accounts.create_account(ctx, "alpha", username="ana", password=PASSWORD, role="coder", actor="t")
    sign_in(client, "ana")
    page = client.get("/ui/p/alpha/next", follow_redirects=True)
    assert page.status_code == 200 and "bread oven" in page.text
    refused = client.post(f"/ui/p/alpha/task/{task_id}", data={"action": "code", "code": "11"})
    assert refused.status_code == 403 and "security token" in refused.text
    forged = client.post(f"/ui/p/alpha/task/{task_id}", data={"action": "code", "code": "11", "csrf": "x" * 40})
    assert forged.status_code == 403
    with ctx.db.read() as session:
        assert session.scalars(select(TaskDecision)).all() == []
    done = client.post(f"/ui/p/alpha/task/{task_id}",
                       data={"action": "code", "code": "11", "csrf": _csrf(page.text), "shown_at": "0"})
    assert done.status_code == 303
    with ctx.db.read() as session:
        assert [(d.username, d.code) for d in session.scalars(select(TaskDecision))] == [("ana", "11")]


def test_a_coder_of_one_project_cannot_open_another_projects_pages_or_tasks(app_client):
    client, ctx = app_client
    get = __import__("statcoder.service.projects", fromlist=["get_project"]).get_project
    (beta_task,) = queue(ctx, get(ctx, "beta"), ["meat sausage"])
    accounts.create_account(ctx, "alpha", username="ana", password=PASSWORD, role="coder", actor="t")
    sign_in(client, "ana")
    for path in (f"/ui/p/beta/task/{beta_task}", f"/ui/p/alpha/task/{beta_task}", "/ui/p/beta/next",
                 "/ui/p/alpha/supervise", "/ui/p/alpha/stats", "/ui/p/nosuch/next"):
        page = client.get(path)
        assert page.status_code == 404, path
        assert "meat sausage" not in page.text
    page = client.get("/ui/projects")
    posted = client.post(f"/ui/p/alpha/task/{beta_task}", data={"action": "code", "code": "12",
                                                                 "csrf": _csrf(page.text)})
    assert posted.status_code == 404
    with ctx.db.read() as session:
        assert session.scalars(select(TaskDecision)).all() == []


def test_bad_input_comes_back_next_to_the_field_with_the_form_filled(app_client):
    client, ctx = app_client
    get = __import__("statcoder.service.projects", fromlist=["get_project"]).get_project
    (task_id,) = queue(ctx, get(ctx, "alpha"), ["bread oven"])
    accounts.create_account(ctx, "alpha", username="ana", password=PASSWORD, role="coder", actor="t")
    sign_in(client, "ana")
    page = client.get("/ui/p/alpha/next", follow_redirects=True)
    csrf = _csrf(page.text)
    cases = [({"action": "code", "code": "99"}, "code-error", "not in trades"),
             ({"action": "code", "code": ""}, "code-error", "choose a code"),
             ({"action": "code", "code": "111"}, "code-error", "deeper than trades"),
             ({"action": "uncodable", "reason": ""}, "reason-error", "give the reason")]
    for data, field, text in cases:
        answer = client.post(f"/ui/p/alpha/task/{task_id}", data={**data, "csrf": csrf, "note": "kept note"})
        assert answer.status_code == 422, data
        assert f'id="{field}"' in answer.text and text in answer.text
        assert "kept note" in answer.text  # nothing typed is lost
    with ctx.db.read() as session:
        assert session.scalars(select(TaskDecision)).all() == []


def test_bad_input_to_the_adjudication_comes_back_next_to_the_field_and_nothing_is_stored(app_client):
    client, ctx = app_client
    from webkit import account

    from statcoder.service.projects import get_project
    from statcoder.service.workbench import queue as wq
    from statcoder.service.workbench.decisions import decide, validate

    project = get_project(ctx, "alpha")
    wq.update_settings(ctx, "alpha", double_coding_rate=1.0, active_learning=False, lease_seconds=600, actor="t")
    (task_id,) = queue(ctx, project, ["bread oven"])
    for who, code in (("ana", "11"), ("bob", "12")):  # the two coders disagree
        coder = account(ctx, "alpha", who)
        assert wq.next_task(ctx, "alpha", coder) == task_id
        decide(ctx, project, coder, task_id, validate(ctx, project, action="code", code=code))
    accounts.create_account(ctx, "alpha", username="boss", password=PASSWORD, role="supervisor", actor="t")
    sign_in(client, "boss")
    page = client.get(f"/ui/p/alpha/adjudicate/{task_id}")
    assert page.status_code == 200 and "bread oven" in page.text
    csrf = _csrf(page.text)
    cases = [({"action": "code", "code": "99"}, 'id="code-error"', "not in trades"),
             ({"action": "code", "code": "111"}, 'id="code-error"', "deeper than trades"),
             ({"action": "code", "code": ""}, 'id="code-error"', "choose a code"),
             ({"action": "uncodable", "reason": "other"}, 'id="note-error"', "say why in the note"),
             ({"action": "refer"}, 'class="error"', "a supervisor decides")]
    for data, where, text in cases:
        answer = client.post(f"/ui/p/alpha/adjudicate/{task_id}", data={"csrf": csrf, "note": "", **data})
        assert answer.status_code == 422, data
        assert where in answer.text and text in answer.text, data
    kept = client.post(f"/ui/p/alpha/adjudicate/{task_id}",
                       data={"csrf": csrf, "action": "code", "code": "99", "note": "kept note"})
    assert "kept note" in kept.text  # nothing typed is lost
    with ctx.db.read() as session:
        kinds = [d.kind for d in session.scalars(select(TaskDecision))]
    assert kinds == ["code", "code"]  # the coders' two, no adjudication stored
    done = client.post(f"/ui/p/alpha/adjudicate/{task_id}", data={"csrf": csrf, "action": "code", "choice": "12"})
    assert done.status_code == 303


def test_admin_key_creates_accounts_through_the_api(app_client):
    client, ctx = app_client
    from statcoder.service import keys

    admin = keys.issue_key(ctx, "alpha", scopes=["admin"], actor="t").secret
    review = keys.issue_key(ctx, "alpha", scopes=["review"], actor="t").secret
    body = {"username": "boss", "password": PASSWORD, "role": "supervisor"}
    assert client.post("/v1/projects/alpha/accounts", json=body,
                       headers={"Authorization": f"Bearer {review}"}).status_code == 403
    made = client.post("/v1/projects/alpha/accounts", json=body, headers={"Authorization": f"Bearer {admin}"})
    assert made.status_code == 201 and made.json()["role"] == "supervisor"
    assert "password" not in made.text
    assert client.post("/v1/projects/beta/accounts", json=body,
                       headers={"Authorization": f"Bearer {admin}"}).status_code == 404
    assert sign_in(client, "boss").status_code == 303
    assert client.get("/ui/p/alpha/supervise").status_code == 200


def test_one_projects_admin_cannot_take_over_or_pull_in_another_projects_user(app_client):
    """User names are shared by all projects: creating an existing name never ignores the password given
    (the first creator would keep the sign-in) and never adds another project's user."""
    client, ctx = app_client
    from statcoder.service import keys

    alpha = {"Authorization": f"Bearer {keys.issue_key(ctx, 'alpha', scopes=['admin'], actor='t').secret}"}
    beta = {"Authorization": f"Bearer {keys.issue_key(ctx, 'beta', scopes=['admin'], actor='t').secret}"}
    squatted = client.post("/v1/projects/beta/accounts", headers=beta,
                           json={"username": "m.dupont", "password": "attacker-pass-123", "role": "coder"})
    assert squatted.status_code == 201
    for body in ({"username": "m.dupont", "password": "victim-pass-456", "role": "supervisor"},
                 {"username": "m.dupont", "role": "supervisor"}):
        taken = client.post("/v1/projects/alpha/accounts", headers=alpha, json=body)
        assert taken.status_code == 409 and "taken" in taken.json()["error"]["message"], taken.text
    assert [a["username"] for a in client.get("/v1/projects/alpha/accounts", headers=alpha).json()] == []
    assert sign_in(client, "m.dupont", "attacker-pass-123").status_code == 303
    assert client.get("/ui/p/alpha/next").status_code == 404  # still no way into alpha
    # within its own project an existing member changes role, but a password given is refused, not ignored
    again = client.post("/v1/projects/beta/accounts", headers=beta,
                        json={"username": "m.dupont", "password": "another-pass-789", "role": "supervisor"})
    assert again.status_code == 409 and "password is not changed" in again.json()["error"]["message"]
    promoted = client.post("/v1/projects/beta/accounts", headers=beta, json={"username": "m.dupont", "role": "supervisor"})
    assert promoted.status_code == 201


def test_a_supervisor_adds_a_colleague_from_a_project_they_supervise(app_client, tmp_path, model_dir):
    client, ctx = app_client
    make_project(ctx, "gamma", tmp_path / "cls-c", model_dir)
    accounts.create_account(ctx, "alpha", username="boss", password=PASSWORD, role="supervisor", actor="t")
    accounts.create_account(ctx, "beta", username="boss", password=None, role="supervisor", actor="t",
                            colleagues_of=["alpha"])
    accounts.create_account(ctx, "alpha", username="ann", password=PASSWORD, role="coder", actor="t")
    accounts.create_account(ctx, "gamma", username="stranger", password=PASSWORD, role="coder", actor="t")
    sign_in(client, "boss")
    page = client.get("/ui/p/beta/supervise")
    added = client.post("/ui/p/beta/accounts", data={"csrf": _csrf(page.text), "username": "ann", "role": "coder"})
    assert added.status_code == 303
    refused = client.post("/ui/p/beta/accounts", data={"csrf": _csrf(page.text), "username": "stranger",
                                                       "role": "coder"})
    assert refused.status_code == 422 and "is taken" in refused.text
    assert {u.username for u, _ in accounts.members(ctx, "beta")} == {"boss", "ann"}


def test_the_retrain_button_records_the_run_and_its_reason_in_the_history(app_client):
    client, ctx = app_client
    accounts.create_account(ctx, "alpha", username="boss", password=PASSWORD, role="supervisor", actor="t")
    sign_in(client, "boss")
    page = client.get("/ui/p/alpha/supervise")
    assert client.post("/ui/p/alpha/retrain", data={"csrf": _csrf(page.text)}).status_code == 303
    history = client.get("/ui/p/alpha/supervise").text
    # no decisions yet: the run is stored as failed with the reason, the active model stays
    assert "failed" in history and "at least 30 are needed" in history


def test_sign_in_guessing_is_stopped_per_client_and_name_before_any_password_work(app_client):
    client, ctx = app_client
    accounts.create_account(ctx, "alpha", username="ann", password=PASSWORD, role="coder", actor="t")
    accounts.create_account(ctx, "alpha", username="bob", password=PASSWORD, role="coder", actor="t")
    for _ in range(5):
        assert sign_in(client, "ann", "wrong password!").status_code == 401
    blocked = sign_in(client, "ann")  # the right password, too late: no check is made
    assert blocked.status_code == 429 and "too many failed sign-ins" in blocked.text
    assert sign_in(client, "bob").status_code == 303  # another name from the same client still signs in


def test_the_sign_in_throttle_bounds_clients_and_the_process_rate():
    now = [0.0]
    throttle = accounts.SignInThrottle(per_client=3, per_pair=2, window_s=60, rate=1.0, burst=2.0,
                                       clock=lambda: now[0])
    throttle.check("10.0.0.1", "ann")
    throttle.failed("10.0.0.1", "ann")
    throttle.check("10.0.0.1", "ann")
    throttle.failed("10.0.0.1", "ann")
    now[0] += 5  # tokens back
    with pytest.raises(accounts.SignInThrottledError, match="failed sign-ins"):
        throttle.check("10.0.0.1", "ann")  # two failures for this name from this client
    throttle.check("10.0.0.2", "ann")  # another client may still try the name (no lock-out of a colleague)
    throttle.check("10.0.0.1", "bob")
    throttle.failed("10.0.0.1", "bob")
    now[0] += 5
    with pytest.raises(accounts.SignInThrottledError, match="failed sign-ins"):
        throttle.check("10.0.0.1", "cid")  # three failures from this client, whatever the name
    now[0] += 61  # the window has passed
    throttle.check("10.0.0.1", "ann")
    throttle.check("10.0.0.3", "x")
    with pytest.raises(accounts.SignInThrottledError, match="busy"):
        throttle.check("10.0.0.4", "y")  # the process's rate: 2 checks in a burst, then 1 per second
    now[0] += 1.0
    throttle.check("10.0.0.4", "y")


def test_the_operator_grants_a_user_a_second_project_and_resets_a_password(app_client, settings_env):
    """The only way one person works on two projects (user names are shared, admins may not pull in others')."""
    from typer.testing import CliRunner

    from statcoder.cli import app as cli_app

    client, ctx = app_client
    accounts.create_account(ctx, "alpha", username="sup1", password=PASSWORD, role="supervisor", actor="t")
    runner = CliRunner()
    granted = runner.invoke(cli_app, ["admin", "grant", "beta", "sup1", "--role", "supervisor", *settings_env])
    assert granted.exit_code == 0 and "sup1 is now a supervisor of beta" in granted.output, granted.output
    assert {u.username for u, _ in accounts.members(ctx, "beta")} == {"sup1"}
    unknown = runner.invoke(cli_app, ["admin", "grant", "beta", "nobody", *settings_env])
    assert unknown.exit_code == 2 and "not found" in unknown.output
    reset = runner.invoke(cli_app, ["admin", "set-password", "sup1", *settings_env],
                          input="a new long phrase\na new long phrase\n")
    assert reset.exit_code == 0 and "a new long phrase" not in reset.output, reset.output
    assert sign_in(client, "sup1").status_code == 401  # the old password is gone
    assert sign_in(client, "sup1", "a new long phrase").status_code == 303
