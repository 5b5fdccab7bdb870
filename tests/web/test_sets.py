"""Prediction sets of the coding screen: computed once per (model, text), kept, never stale.

The screen used to run the model on every view; now the sets are scored in batches (the
record with the next ones of the queue) and kept per (project, model version, text). These
tests check that kept sets are used, that they are the model's own sets, and that a model
promotion or an edited text gives fresh, correct sets.
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from kit import WORDS, train_model
from webkit import PASSWORD, account, make_project, queue

from statcoder.api.app import create_app
from statcoder.coder import Coder
from statcoder.service import accounts, projects, registry
from statcoder.service.coding import active_coder
from statcoder.service.settings import ServiceSettings
from statcoder.service.workbench import prediction_sets, prefetch_sets, sets
from statcoder.service.workbench import queue as wq

TEXTS = ["bread oven", "meat sausage", "wood cabinet", "wiring cable", "oven wiring meat timber", "wood meat"]


def _models_sets(ctx, project, text: str) -> dict[float, list[str]]:
    _, coder = active_coder(ctx, project)
    return {c: coder.prediction_sets([text], coverage=c)[0] for c in (0.9, 0.95)}


def test_sets_are_scored_once_in_a_batch_and_then_reused(ctx, project):
    sets.clear_cache()
    first = prediction_sets(ctx, project, TEXTS[0], ahead=lambda: TEXTS[1:])
    info = sets.cache_info()
    assert info["model_calls"] == 1 and info["texts_scored"] == len(TEXTS) and info["misses"] == 1
    assert first == _models_sets(ctx, project, TEXTS[0])
    for text in TEXTS[1:]:  # the records ahead were scored with the first: no model call now
        assert prediction_sets(ctx, project, text) == _models_sets(ctx, project, text)
    info = sets.cache_info()
    assert info["model_calls"] == 1 and info["hits"] == len(TEXTS) - 1
    assert prefetch_sets(ctx, project, TEXTS) == 0  # all kept: nothing scored
    assert prefetch_sets(ctx, project, ["bakery pastry", *TEXTS]) == 1  # the next record is missing
    assert prefetch_sets(ctx, project, [*TEXTS, "butcher carcass"]) == 0  # one missing far ahead: wait
    assert sets.cache_info()["model_calls"] == 2


def test_sets_after_a_promotion_are_the_new_models(ctx, project, tmp_path):
    sets.clear_cache()
    before = prediction_sets(ctx, project, "bread oven")
    assert before[0.9][0] == "11"
    # a model that learned bakers' words as butchers' and the other way round
    swapped = train_model(tmp_path / "swapped", words={**WORDS, "11": WORDS["12"], "12": WORDS["11"]})
    row = registry.add_coder(ctx, project, Coder.load(swapped), source="cli", actor="cli:test")
    registry.promote(ctx, project.id, row.version, actor="cli:test")
    promoted = projects.get_project(ctx, project.id)
    after = prediction_sets(ctx, promoted, "bread oven")
    assert after == _models_sets(ctx, promoted, "bread oven")
    assert after[0.9][0] == "12" and sets.cache_info()["model_calls"] == 2


def test_the_screen_shows_kept_sets_and_the_next_records_need_no_model_call(ctx, project):
    sets.clear_cache()
    ids = queue(ctx, project, TEXTS)
    ana = account(ctx, "alpha", "ana")
    from statcoder.web.coder import _screen
    from statcoder.web.common import Viewer

    viewer = Viewer(ana, None, ctx)  # the screen's loader needs no session row
    task_id = wq.next_task(ctx, "alpha", ana)
    shown = _screen(viewer, "alpha", task_id)
    assert sets.cache_info()["model_calls"] == 1  # this record and the queue ahead, one call
    assert sets.cache_info()["texts_scored"] == len(ids)
    text = shown["task"].text
    codes = [[c["code"] for c in row["codes"]] for row in shown["sets"]]
    expected = _models_sets(ctx, project, text)
    assert codes[0] == expected[0.9]
    assert codes[1] == [c for c in expected[0.95] if c not in expected[0.9]]
    other = next(i for i in ids if i != task_id)
    wq.skip(ctx, "alpha", ana, task_id)
    again = _screen(viewer, "alpha", other)
    assert again["task"].id == other and sets.cache_info()["model_calls"] == 1


def test_set_rows_list_a_few_codes_and_count_the_rest(ctx, project):
    from statcoder.web.coder import SET_SHOWN, _set_rows

    classification = ctx.classification(project)
    many = {0.9: ["11"], 0.95: ["11", "12", *[f"9{i:02d}" for i in range(SET_SHOWN + 5)]]}
    rows = _set_rows(classification, many, all_sets=False)
    assert [c["code"] for c in rows[0]["codes"]] == ["11"] and rows[0]["more"] == 0
    assert len(rows[1]["codes"]) == SET_SHOWN and rows[1]["codes"][0] == {"code": "12", "title": "Butchers"}
    assert rows[1]["more"] == SET_SHOWN + 6 - SET_SHOWN and rows[1]["size"] == SET_SHOWN + 7
    every = _set_rows(classification, many, all_sets=True)
    assert len(every[1]["codes"]) == SET_SHOWN + 6 and every[1]["more"] == 0


@pytest.fixture
def app_client(db_url, tmp_path, model_dir):
    app = create_app(ServiceSettings(data_dir=tmp_path / "data", database_url=db_url), start_worker=False)
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as client:
        ctx = app.state.context
        project = make_project(ctx, "alpha", tmp_path / "cls-a", model_dir)
        accounts.create_account(ctx, "alpha", username="ana", password=PASSWORD, role="coder", actor="t")
        page = client.get("/ui/login")
        token = re.search(r'name="login_csrf" value="([^"]+)"', page.text).group(1)
        client.post("/ui/login", data={"username": "ana", "password": PASSWORD, "login_csrf": token})
        yield client, ctx, project


def _chips(html: str) -> list[str]:
    box = html.split('class="sets"', 1)[1].split("</fieldset>", 1)[0]
    return re.findall(r'name="choice" value="([^"]+)"', box)


def test_an_edited_text_gets_its_own_sets_and_the_full_sets_are_one_link_away(app_client, monkeypatch):
    client, ctx, project = app_client
    (task_id,) = queue(ctx, project, ["bread oven"])
    page = client.get("/ui/p/alpha/next", follow_redirects=True)
    assert _chips(page.text)[0] == "11"
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    rerun = client.post(f"/ui/p/alpha/task/{task_id}",
                        data={"csrf": csrf, "action": "rerun", "edited_text": "meat sausage"})
    assert rerun.status_code == 200 and "Candidates for the edited text" in rerun.text
    expected = _models_sets(ctx, project, "meat sausage")
    assert _chips(rerun.text)[0] == expected[0.9][0] == "12"
    assert "bread oven" in rerun.text  # the original text is kept on screen


def test_long_sets_are_folded_on_screen_and_listed_in_full_one_link_away(app_client, tmp_path, monkeypatch):
    client, ctx, project = app_client
    # a vague model (every code shares four words) whose prediction sets hold several codes
    vague = {code: words[:2] + ["worker", "shop", "helper", "assistant"] for code, words in WORDS.items()}
    row = registry.add_coder(ctx, project, Coder.load(train_model(tmp_path / "vague", words=vague)),
                             source="cli", actor="cli:test")
    registry.promote(ctx, project.id, row.version, actor="cli:test")
    project = projects.get_project(ctx, project.id)
    full = _models_sets(ctx, project, "worker shop")
    assert len(full[0.9]) >= 3  # the premise of this test
    (task_id,) = queue(ctx, project, ["worker shop"])
    import statcoder.web.coder as screen

    monkeypatch.setattr(screen, "SET_SHOWN", 1)
    short = client.get(f"/ui/p/alpha/task/{task_id}")
    assert _chips(short.text)[0] == full[0.9][0] and len(_chips(short.text)) <= 2
    assert f"and {len(full[0.9]) - 1} more</span>" in short.text
    assert f"({len(full[0.9])} codes)" in short.text
    link = f"/ui/p/alpha/task/{task_id}?sets=all"
    assert f'href="{link}"' in short.text
    every = client.get(link)
    assert _chips(every.text) == full[0.95]  # the 90 % set, then what 95 % adds: every code once
    assert "Show every code of the sets" not in every.text


def test_static_assets_carry_their_content_hash_and_are_cached_for_good(app_client):
    client, _ctx, _project = app_client
    page = client.get("/ui/projects")
    links = re.findall(r'"(/ui/static/app\.(?:css|js)\?v=([0-9a-f]+))"', page.text)
    assert len(links) == 2
    from statcoder.web.common import asset_version

    for url, version in links:
        assert version == asset_version()
        answer = client.get(url)
        assert answer.status_code == 200 and "immutable" in answer.headers["cache-control"]
    plain = client.get("/ui/static/app.css")  # an address without the hash is revalidated
    assert plain.headers["cache-control"] == "no-cache"


def test_coding_a_long_queue_never_waits_for_the_model_after_the_first_record(app_client):
    client, ctx, project = app_client
    import statcoder.web.coder as screen

    words = [w for vocab in WORDS.values() for w in vocab]
    texts = [f"{words[i % len(words)]} {words[(7 * i + 3) % len(words)]} {i}" for i in range(45)]
    queue(ctx, project, texts)
    sets.clear_cache()
    screen._pages.clear()
    page = client.get("/ui/p/alpha/next", follow_redirects=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    shown = []
    for _ in range(len(texts)):
        shown.append(re.search(r'id="record-text">([^<]*)<', page.text).group(1))
        url = re.search(r'<form class="decide" id="decide" method="post" action="([^"]+)"', page.text).group(1)
        page = client.post(url, data={"csrf": csrf, "action": "code", "code": "11"}, follow_redirects=True)
        assert page.status_code == 200
    assert "Nothing to code" in page.text and sorted(shown) == sorted(texts)
    info = sets.cache_info()
    # the first record's miss scored it with the 32 ahead; the prefetch after the 17th page scored
    # the rest: no other page computed anything
    assert info["misses"] == 1 and info["model_calls"] == 2 and info["texts_scored"] == len(texts)
