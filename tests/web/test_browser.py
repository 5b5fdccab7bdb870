"""End to end in Debian's Chromium against a real uvicorn server (SQLite): keyboard-only coding,
higher level, uncodable, undo, search, double coding + adjudication, audit and agreement figures,
every decision checked in the store, screenshots of every page at 1280x800 and 400 px wide."""

from __future__ import annotations

from pathlib import Path

import pytest
from server import CHROMIUM_ARGS, running
from sqlalchemy import select
from webkit import PASSWORD, make_project, queue

from statcoder.api.app import create_app
from statcoder.service import accounts, projects
from statcoder.service.settings import ServiceSettings
from statcoder.store.tables import ReviewTask
from statcoder.store.workbench_tables import TaskDecision

pytestmark = pytest.mark.browser
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture
def site(tmp_path, model_dir):
    settings = ServiceSettings(data_dir=tmp_path / "data", job_worker=False)
    app = create_app(settings, start_worker=False)
    ctx = app.state.context
    with running(app) as base:
        make_project(ctx, "alpha", tmp_path / "cls", model_dir)
        project = projects.get_project(ctx, "alpha")
        review_ids = queue(ctx, project, ["bread oven", "meat sausage", "something vague", "timber joiner"])
        audit_ids = queue(ctx, project, ["wiring cable", "bakery bread"], reason="audit", decision="auto")
        for name, role in (("ana", "coder"), ("bob", "coder"), ("boss", "supervisor")):
            accounts.create_account(ctx, "alpha", username=name, password=PASSWORD, role=role, actor="t")
        yield base, ctx, project, review_ids, audit_ids


def _shoot(page, directory: Path, name: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1280, "height": 800})
    page.screenshot(path=str(directory / f"{name}-1280.png"), full_page=True)
    page.set_viewport_size({"width": 400, "height": 800})
    page.screenshot(path=str(directory / f"{name}-400.png"), full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 420, f"{name} scrolls sideways at 400 px ({width} px)"
    page.set_viewport_size({"width": 1280, "height": 800})


def _sign_in(browser, base: str, user: str):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(base + "/ui/projects")
    assert "/ui/login" in page.url
    # the user name field takes the focus by itself (autofocus, applied after load: wait for it)
    page.wait_for_function("document.activeElement && document.activeElement.id === 'username'")
    page.keyboard.type(user)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: url.endswith("/ui/projects") and "/login" not in url)
    return page


def _record_text(page) -> str:
    return page.locator("#record-text").inner_text()


def _press(page, key: str, target=None) -> None:
    """Press ``key`` (on ``target`` if given) and wait until the form's answer is on screen.

    The coding forms swap the server's next page in without a new document; the page marks
    each swap on its new body.
    """
    before = page.evaluate("document.body.dataset.swap || ''")
    (target or page.keyboard).press(key)
    page.wait_for_function("(b) => (document.body.dataset.swap || '') !== b", arg=before)


def test_coding_double_coding_and_adjudication_in_the_browser(site, tmp_path):
    from playwright.sync_api import sync_playwright

    base, ctx, project, _review_ids, audit_ids = site
    shots = tmp_path / "screens"
    assert CHROMIUM.exists(), "run `bash scripts/system-deps.sh` to install Debian chromium"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        ana = _sign_in(browser, base, "ana")
        _shoot(ana, shots, "projects")
        errors: list[str] = []
        ana.on("pageerror", lambda exc: errors.append(str(exc)))  # JavaScript errors
        ana.goto(base + "/ui/p/alpha/next")
        coded = {}
        # 1) "bread oven": first candidate, Enter — keyboard only
        assert _record_text(ana) == "bread oven"
        assert ana.locator(".fields").inner_text().count("North") == 1  # auxiliary fields shown
        assert "audit" not in ana.content().lower()  # blind: nothing says audit or auto
        sets = ana.locator(".sets").inner_text()  # conformal prediction sets of the model
        assert "90 %" in sets and "95 % adds" in sets and "11" in sets
        _shoot(ana, shots, "coding")
        ana.keyboard.press("1")
        first_path = ana.evaluate("location.pathname")
        _press(ana, "Enter")
        coded["bread oven"] = "11"
        path = ana.evaluate("location.pathname")  # the address follows the record
        assert path != first_path and path.endswith(ana.locator(".screen").get_attribute("data-task"))
        assert ana.evaluate("performance.getEntriesByType('navigation').length") == 1  # no new document
        # 2) "meat sausage": code at a higher level (l, choose level 1, Enter)
        assert _record_text(ana) == "meat sausage"
        ana.keyboard.press("1")
        ana.keyboard.press("l")
        ana.keyboard.press("ArrowDown")
        _press(ana, "Enter")
        coded["meat sausage"] = "1"
        # 3) "something vague": uncodable with a reason (x, choose, Enter)
        assert _record_text(ana) == "something vague"
        ana.keyboard.press("x")
        ana.keyboard.press("ArrowDown")
        _press(ana, "Enter")
        # 4) undo it: the same record comes back; then search "carp" and pick the hit
        assert _record_text(ana) == "timber joiner"
        _press(ana, "u")
        assert _record_text(ana) == "something vague"
        ana.keyboard.press("/")
        ana.keyboard.type("carp")
        ana.wait_for_selector("#hit-list input[value='21']")
        assert "Building trades" in ana.locator("#hit-list").inner_text()  # the breadcrumb
        ana.keyboard.press("Enter")  # picks the highlighted hit
        assert ana.locator("#hit-list input[value='21']").is_checked()
        _press(ana, "Enter")
        coded["something vague"] = "21"
        # 5) an empty submission: refused next to the field, nothing lost
        assert _record_text(ana) == "timber joiner"
        ana.keyboard.press("n")
        ana.keyboard.type("check this")
        ana.keyboard.press("Escape")
        ana.locator("#code").focus()
        ana.keyboard.type("99")
        _press(ana, "Enter")
        assert ana.locator("#code-error").is_visible() and "not in trades" in ana.locator("#code-error").inner_text()
        assert ana.locator("#note").input_value() == "check this"
        _shoot(ana, shots, "coding-error")
        ana.locator("#code").fill("")
        ana.locator("#code").press("Escape")
        ana.keyboard.press("1")
        _press(ana, "Enter")
        coded["timber joiner"] = None  # whatever the first candidate was
        # 6) the two audit records, blind, agreeing with the first candidate
        for _ in audit_ids:
            ana.keyboard.press("1")
            _press(ana, "Enter")
        assert "Nothing to code" in ana.content()
        ana.keyboard.press("?")
        assert not errors, errors

        boss = _sign_in(browser, base, "boss")
        boss.goto(base + "/ui/p/alpha/stats")
        audit_text = boss.locator("#audit-table").inner_text()
        assert "No audited record yet" not in audit_text and "all" in audit_text
        coverage = boss.locator("#conformal-table").inner_text()  # the card's empirical coverage
        assert "90 %" in coverage and "95 %" in coverage
        _shoot(boss, shots, "statistics-before")
        # supervisor turns double coding on for everything, then queues one more record
        boss.goto(base + "/ui/p/alpha/supervise")
        boss.fill("#settings\\.double_coding_percent", "150")
        boss.click("text=Save settings")
        assert "between 0 and 100" in boss.locator("#settings\\.double_coding_percent-error").inner_text()
        boss.fill("#settings\\.double_coding_percent", "100")
        boss.click("text=Save settings")
        _shoot(boss, shots, "supervise")
        (double_id,) = queue(ctx, project, ["cable timber"])
        bob = _sign_in(browser, base, "bob")
        for page in (ana, bob):
            page.goto(base + "/ui/p/alpha/next")
            assert _record_text(page) == "cable timber"
        ana.locator("#code").fill("21")
        _press(ana, "Enter", ana.locator("#code"))
        bob.locator("#code").fill("22")
        _press(bob, "Enter", bob.locator("#code"))
        boss.goto(base + "/ui/p/alpha/adjudicate")
        _shoot(boss, shots, "adjudication-list")
        boss.click(f"text=Decide #{double_id}")
        assert "cable timber" in boss.content()
        _shoot(boss, shots, "adjudication")
        boss.check("input[name=choice][value='22']")
        boss.click("button[value=code]")
        boss.goto(base + "/ui/p/alpha/stats")
        assert "ana / bob" in boss.locator("#agreement-table").inner_text()
        _shoot(boss, shots, "statistics-after")
        browser.close()

    with ctx.db.read() as session:
        decisions = [(d.username, d.kind, d.code, d.reason, d.undone_at is not None)
                     for d in session.scalars(select(TaskDecision).order_by(TaskDecision.id))]
        tasks = {t.text: t for t in session.scalars(select(ReviewTask))}
    first_candidate = tasks["timber joiner"].code
    assert decisions[:5] == [
        ("ana", "code", "11", None, False), ("ana", "code", "1", None, False),
        ("ana", "uncodable", None, "too vague", True), ("ana", "code", "21", None, False),
        ("ana", "code", first_candidate, None, False),
    ]
    assert [d[:3] for d in decisions[5:7]] == [("ana", "code", tasks["wiring cable"].code),
                                              ("ana", "code", tasks["bakery bread"].code)]
    assert decisions[7:] == [("ana", "code", "21", None, False), ("bob", "code", "22", None, False),
                             ("boss", "adjudication", "22", None, False)]
    assert tasks["cable timber"].status == "done" and tasks["cable timber"].code == "22"
    assert tasks["meat sausage"].code == "1" and tasks["something vague"].code == "21"
    assert all((shots / f"{n}-{w}.png").stat().st_size > 1000 for n in
               ("projects", "coding", "coding-error", "supervise", "adjudication", "statistics-after")
               for w in (1280, 400))


def test_every_page_works_with_javascript_off(site, tmp_path):
    from playwright.sync_api import sync_playwright

    base, ctx, _project, _review_ids, _audit_ids = site
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(java_script_enabled=False, viewport={"width": 400, "height": 800})
        page = context.new_page()
        page.goto(base + "/ui/login")
        page.fill("#username", "boss")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.goto(base + "/ui/p/alpha/next")
        assert _record_text(page) == "bread oven"
        page.fill("#q", "electric")  # the search falls back to a submit
        page.click("#search-form button[type=submit]")
        assert "q=electric" in page.url
        page.check("#hit-list input[value='22']")
        page.click("#btn-code")
        assert _record_text(page) == "meat sausage"
        for path in ("supervise", "adjudicate", "stats"):
            page.goto(f"{base}/ui/p/alpha/{path}")
            assert page.locator("h1").is_visible()
        browser.close()
    with ctx.db.read() as session:
        assert [(d.username, d.code) for d in session.scalars(select(TaskDecision))] == [("boss", "22")]


def test_a_failed_swap_falls_back_to_the_plain_form_and_back_reloads_from_the_server(site):
    from playwright.sync_api import sync_playwright

    base, ctx, _project, review_ids, _audit_ids = site
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        ana = _sign_in(browser, base, "ana")
        errors: list[str] = []
        ana.on("pageerror", lambda exc: errors.append(str(exc)))
        ana.goto(base + "/ui/p/alpha/next")
        assert _record_text(ana) == "bread oven"
        failed = []

        def drop_fetch(route) -> None:  # the network fails for the swap's request, not for a page
            if route.request.resource_type == "fetch" and not failed:
                failed.append(route.request.url)
                route.abort()
            else:
                route.continue_()

        ana.route("**/ui/p/alpha/task/*", drop_fetch)
        ana.keyboard.press("1")
        with ana.expect_navigation():  # the plain submission of the same form
            ana.keyboard.press("Enter")
        assert failed and _record_text(ana) == "meat sausage"
        ana.keyboard.press("1")
        _press(ana, "Enter")  # swapped again
        assert _record_text(ana) == "something vague"
        ana.go_back()  # back: the previous address, reloaded from the server
        ana.wait_for_selector("text=finished or is being coded by another coder")
        assert ana.evaluate("location.pathname") == f"/ui/p/alpha/task/{review_ids[1]}"
        assert ana.evaluate("performance.getEntriesByType('navigation')[0].type") == "reload"
        assert not errors, errors
        browser.close()
    with ctx.db.read() as session:  # one decision per record: the failed request stored nothing twice
        assert [d.task_id for d in session.scalars(select(TaskDecision))] == review_ids[:2]
