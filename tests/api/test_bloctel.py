"""BLOCTEL: imports (operator), the list's status, and what it does to decisions."""

from __future__ import annotations

import gzip
import hashlib
from typing import Any

import pytest

from tests.api.conftest import OPT_OUT_MONDAY, aware, blocking, codes
from tests.factories import CALLEE, Tenant, add_campaign, add_consent

LISTED = "+33611111111"

FILE = (
    b"06 11 11 11 11\n"        # 1 accepted
    b"+33622222222\n"          # 2 accepted
    b"\n"                      # 3 blank: not counted
    b"not-a-number\n"          # 4 rejected
    b"0611111111\n"            # 5 duplicate of line 1
    b"0033 6 33 33 33 33\n"    # 6 accepted
    b"123\n"                   # 7 rejected
)


def upload(t: Tenant, content: bytes, *, mode: str = "replace", as_of: str = "2026-06-10",
           role: str = "operator", **params: Any) -> Any:
    return t.client.post(
        "/v1/bloctel/imports", params={"mode": mode, "as_of": as_of} | params, content=content,
        headers={"Authorization": f"Bearer {getattr(t, role)}", "Content-Type": "text/plain"},
    )


@pytest.fixture
def opt_out(tenant: Tenant, freeze) -> Tenant:
    freeze(OPT_OUT_MONDAY)
    return tenant


def test_import_reports_every_line(opt_out: Tenant) -> None:
    r = upload(opt_out, FILE, max_rejected=0.5)
    assert r.status_code == 201, r.text
    body = r.json()
    expected = {
        "version": 1, "mode": "replace", "as_of": "2026-06-10", "lines": 7, "accepted": 3,
        "duplicates": 1, "rejected": 2, "blank": 1, "header": 0,
        "sha256": hashlib.sha256(FILE).hexdigest(), "file_bytes": len(FILE),
        "total_numbers": 3, "status": "active", "added": 3, "removed": 0,
    }
    assert {k: body[k] for k in expected} == expected
    assert {"import_id", "rejected_samples", "activated_at"} <= set(body)
    assert body["import_id"]
    assert [(s["line"], s["value"]) for s in body["rejected_samples"]] == [
        (4, "not-a-number"), (7, "123")]
    assert all(s["error"] for s in body["rejected_samples"])
    assert aware(body["activated_at"]) == aware(OPT_OUT_MONDAY)

    status = opt_out.get("/v1/bloctel", role="dialer").json()
    assert {k: status[k] for k in ("version", "total_numbers", "as_of", "age_days", "stale")} == {
        "version": 1, "total_numbers": 3, "as_of": "2026-06-10", "age_days": 5, "stale": False}
    assert aware(status["activated_at"]) == aware(OPT_OUT_MONDAY)
    history = opt_out.get("/v1/bloctel/imports", role="operator").json()
    assert [(h["version"], h["import_id"], h["status"], h["imported_by"]) for h in history] == [
        (1, body["import_id"], "active", body["imported_by"])]
    assert history[0]["rejected_samples"] == body["rejected_samples"]


def test_a_mostly_garbage_file_is_refused_unless_forced(opt_out: Tenant) -> None:
    assert upload(opt_out, b"0611111111\n").status_code == 201
    garbage = b"".join(b"0622222222\n" for _ in range(94)) + b"".join(
        b"n/a\n" for _ in range(6))  # 6 % rejected: above the default 5 %
    refused = upload(opt_out, garbage)
    assert refused.status_code == 422, refused.text
    body = refused.json()
    assert body["error"] == "import_refused" and "6.0%" in body["detail"]
    report = body["import"]
    assert (report["status"], report["rejected"], report["accepted"], report["duplicates"]) == (
        "refused", 6, 1, 93)
    assert [s["line"] for s in report["rejected_samples"]] == list(range(95, 101))
    # the list in force is untouched, and the refusal is on record
    assert opt_out.get("/v1/bloctel").json()["version"] == 1
    assert codes(opt_out.evaluate(callee="+33611111111").json()) == ["BLOCTEL_LISTED"]
    history = opt_out.get("/v1/bloctel/imports", role="operator").json()
    assert [(h["version"], h["status"]) for h in history] == [(2, "refused"), (1, "active")]
    assert history[0]["error"] == body["detail"]
    # the limit is configurable per import, and force overrides it
    assert upload(opt_out, garbage, max_rejected=0.06).status_code == 201
    forced = upload(opt_out, garbage, force="true")
    assert forced.status_code == 201, forced.text
    assert (forced.json()["version"], forced.json()["forced"]) == (4, True)
    assert codes(opt_out.evaluate(callee="+33611111111").json()) == []


@pytest.mark.parametrize(
    "content, mode, as_of, reason",
    [
        (b"n/a\n", "replace", "2026-06-10", "rejected"),  # 100 % garbage
        (b"\n\n", "replace", "2026-06-10", "would be empty"),  # no number at all
        (b"0633333333\n", "replace", "2026-06-10", "less than half"),  # 3 numbers → 1
        (b"0633333333\n", "add", "2026-06-01", "older than the list in force"),
        # a remove is checked on the list it leaves, like a replace
        (b"0611111111\n0622222222\n0633333333\n", "remove", "2026-06-10", "leaves no number"),
        (b"0611111111\n0622222222\n", "remove", "2026-06-10", "less than half"),
    ],
)
def test_imports_that_would_damage_the_list_need_force(
    opt_out: Tenant, content: bytes, mode: str, as_of: str, reason: str
) -> None:
    first = upload(opt_out, b"0611111111\n0622222222\n0633333333\n", as_of="2026-06-05")
    assert first.status_code == 201
    refused = upload(opt_out, content, mode=mode, as_of=as_of)
    assert refused.status_code == 422, refused.text
    assert reason in refused.json()["detail"]
    status = opt_out.get("/v1/bloctel").json()
    assert (status["version"], status["total_numbers"], status["as_of"]) == (1, 3, "2026-06-05")
    assert status["last_import"]["status"] == "refused"
    forced = upload(opt_out, content, mode=mode, as_of=as_of, force="true")
    assert forced.status_code == 201, forced.text
    assert opt_out.get("/v1/bloctel").json()["version"] == 3


def test_a_delta_cannot_make_a_stale_list_look_fresh(opt_out: Tenant) -> None:
    assert upload(opt_out, b"0611111111\n", as_of="2026-05-01").status_code == 201
    assert opt_out.get("/v1/bloctel").json()["stale"] is True
    refused = upload(opt_out, b"0622222222\n", mode="add", as_of="2026-06-10")
    assert refused.status_code == 422
    assert "mode=replace" in refused.json()["detail"]
    assert opt_out.get("/v1/bloctel").json()["stale"] is True
    # a full list is what refreshes it
    assert upload(opt_out, b"0611111111\n0622222222\n", as_of="2026-06-10").status_code == 201
    assert opt_out.get("/v1/bloctel").json()["stale"] is False


def test_remove_with_no_list_in_force_does_not_make_an_empty_fresh_list(opt_out: Tenant) -> None:
    refused = upload(opt_out, b"0611111111\n", mode="remove")
    assert refused.status_code == 422
    assert "leaves no number" in refused.json()["detail"]
    status = opt_out.get("/v1/bloctel").json()
    assert (status["version"], status["stale"]) == (None, True)
    assert blocking(opt_out.check(callee=CALLEE).json()) == ["BLOCTEL_LIST_MISSING"]


def test_csv_with_a_header_and_bom_in_gzip(opt_out: Tenant) -> None:
    csv = (
        "\ufeffNom;Prénom;Numéro de téléphone;Ville\r\n"
        "Dupont;Jean;06 11 11 11 11;Paris\r\n"
        '"Martin; fils";Luc;+33 6 22 22 22 22;Lyon\r\n'
        "Durand;Anne;;Nice\r\n"
        "Petit;Paul;0692 12 34 56;Saint-Denis\r\n"
    ).encode()
    r = upload(opt_out, gzip.compress(csv), max_rejected=0.5)
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["lines"], body["header"], body["accepted"], body["rejected"]) == (5, 1, 3, 1)
    assert body["format"] == "gzip, semicolon-separated, numbers in column 3 " \
        "'Numéro de téléphone', utf-8-sig"
    assert body["rejected_samples"] == [
        {"line": 4, "value": "Durand;Anne;;Nice", "error": "no number"}]
    assert codes(opt_out.evaluate(callee="+262692123456").json()) == ["BLOCTEL_LISTED"]
    assert codes(opt_out.evaluate(callee="+33622222222").json()) == ["BLOCTEL_LISTED"]


def test_a_second_import_while_one_runs_is_409(opt_out: Tenant) -> None:
    from app.bloctel import store
    from app.db import get_engine

    with store.import_lock(get_engine()):
        r = upload(opt_out, b"0611111111\n")
    assert r.status_code == 409, r.text
    assert r.json()["error"] == "import_running"
    assert upload(opt_out, b"0611111111\n").status_code == 201


def test_an_import_that_fails_midway_leaves_the_list_in_force(
    opt_out: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.bloctel import store

    assert upload(opt_out, b"0611111111\n").status_code == 201
    real = store.write_chunks

    def broken(*args: Any, **kwargs: Any) -> Any:
        yield from real(*args, **kwargs)
        raise OSError("disk full")

    monkeypatch.setattr(store, "write_chunks", broken)
    failed = upload(opt_out, b"0622222222\n", mode="add")
    assert failed.status_code == 500
    assert failed.json()["error"] == "import_failed"
    assert "disk full" in failed.json()["detail"] and "unchanged" in failed.json()["detail"]
    monkeypatch.setattr(store, "write_chunks", real)
    history = opt_out.get("/v1/bloctel/imports", role="operator").json()
    assert [(h["version"], h["status"]) for h in history] == [(2, "failed"), (1, "active")]
    assert "disk full" in history[0]["error"]
    assert codes(opt_out.evaluate(callee="+33622222222").json()) == []
    assert codes(opt_out.evaluate(callee="+33611111111").json()) == ["BLOCTEL_LISTED"]
    # nothing to clean up: the next import works
    assert upload(opt_out, b"0622222222\n", mode="add").json()["total_numbers"] == 2


def test_gzip_and_crlf_files_are_accepted(opt_out: Tenant) -> None:
    raw = b"0611111111\r\n0622222222\r\n"
    r = upload(opt_out, gzip.compress(raw))
    assert r.status_code == 201, r.text
    assert (r.json()["accepted"], r.json()["rejected"], r.json()["total_numbers"]) == (2, 0, 2)
    assert codes(opt_out.check(callee=LISTED).json()) == ["BLOCTEL_LISTED"]


def test_modes_add_and_remove_build_on_the_active_version(opt_out: Tenant) -> None:
    assert upload(opt_out, b"0611111111\n0622222222\n").json()["total_numbers"] == 2
    added = upload(opt_out, b"0633333333\n0611111111\n", mode="add").json()
    assert (added["version"], added["mode"], added["total_numbers"]) == (2, "add", 3)
    removed = upload(opt_out, b"0611111111\n", mode="remove").json()
    assert (removed["version"], removed["total_numbers"]) == (3, 2)
    assert opt_out.get("/v1/bloctel").json()["version"] == 3
    assert opt_out.evaluate(callee=LISTED).json()["decision"] == "allow"
    assert codes(opt_out.evaluate(callee="+33633333333").json()) == ["BLOCTEL_LISTED"]
    replaced = upload(opt_out, b"0644444444\n").json()
    assert replaced["total_numbers"] == 1
    history = opt_out.get("/v1/bloctel/imports", role="operator").json()
    assert [h["version"] for h in history] == [4, 3, 2, 1]


def test_bad_imports_are_refused_and_keep_the_active_list(opt_out: Tenant) -> None:
    assert upload(opt_out, b"0611111111\n").status_code == 201
    cases = {
        "no as_of": opt_out.client.post(
            "/v1/bloctel/imports", params={"mode": "replace"}, content=b"0622222222\n",
            headers={"Authorization": f"Bearer {opt_out.operator}"}),
        "bad as_of": upload(opt_out, b"0622222222\n", as_of="10/06/2026"),
        "future as_of": upload(opt_out, b"0622222222\n", as_of="2026-07-01"),
        "bad mode": upload(opt_out, b"0622222222\n", mode="merge"),
        "empty body": upload(opt_out, b""),
        "bad force": upload(opt_out, b"0622222222\n", force="maybe"),
        "bad max_rejected": upload(opt_out, b"0622222222\n", max_rejected=2),
    }
    assert {k: r.status_code for k, r in cases.items()} == {k: 422 for k in cases}
    for role in ("admin", "compliance", "dialer"):
        assert upload(opt_out, b"0622222222\n", role=role).status_code in (403, 404)
    status = opt_out.get("/v1/bloctel").json()
    assert (status["version"], status["total_numbers"]) == (1, 1)
    assert opt_out.evaluate(callee="+33622222222").json()["decision"] == "allow"


def test_as_of_is_compared_with_the_paris_date(tenant: Tenant, freeze) -> None:
    # 00:30 on 15 June in Paris is still 14 June in UTC: today's list is not in the future
    freeze("2026-06-15T00:30:00+02:00")
    r = upload(tenant, b"0611111111\n", as_of="2026-06-15")
    assert r.status_code == 201, r.text
    assert tenant.get("/v1/bloctel").json()["age_days"] == 0


def test_opt_out_listed_number_is_denied(opt_out: Tenant) -> None:
    upload(opt_out, FILE, force="true")
    body = opt_out.check(callee="06 11 11 11 11").json()
    assert (body["regime"], body["decision"], codes(body)) == (
        "opt_out", "deny", ["BLOCTEL_LISTED"])
    assert body["reasons"][0]["severity"] == "block"
    assert "L223-1" in body["reasons"][0]["legal_basis"]
    assert body["penalty_eur"] == "0.02"
    assert opt_out.check(callee=CALLEE).json()["decision"] == "allow"
    # a recorded consent exempts the call from the list (until 2026-08-10)
    add_consent(opt_out, callee=LISTED, given_at="2026-06-01T10:00:00+02:00")
    assert opt_out.check(callee=LISTED).json()["decision"] == "allow"
    # press subscriptions are exempt from the list
    add_campaign(opt_out, "press", sector="press_subscription")
    assert opt_out.check(callee="+33622222222", campaign="press").json()["decision"] == "allow"


@pytest.mark.parametrize(
    "as_of, age, expected",
    [
        (None, None, ["BLOCTEL_LIST_MISSING"]),
        ("2026-05-16", 30, []),
        ("2026-05-15", 31, ["BLOCTEL_LIST_STALE"]),
        ("2026-03-01", 106, ["BLOCTEL_LIST_STALE"]),
    ],
)
def test_opt_out_list_freshness(
    opt_out: Tenant, as_of: str | None, age: int | None, expected: list[str]
) -> None:
    if as_of is not None:
        assert upload(opt_out, b"0699999999\n", as_of=as_of).status_code == 201
    status = opt_out.get("/v1/bloctel").json()
    assert (status["age_days"], status["stale"]) == (age, bool(expected))
    body = opt_out.check(callee=CALLEE).json()
    assert blocking(body) == expected
    assert body["decision"] == ("deny" if expected else "allow")
    # freshness is about the file, not the consumer: a consent does not lift it
    add_consent(opt_out, given_at="2026-06-01T10:00:00+02:00")
    assert blocking(opt_out.check(callee=CALLEE).json()) == expected
    # press subscriptions do not need the list
    add_campaign(opt_out, "press", sector="press_subscription")
    assert opt_out.check(callee=CALLEE, campaign="press").json()["decision"] == "allow"


def test_opt_in_listed_number_is_a_notice_unless_the_policy_blocks(
    tenant: Tenant, freeze
) -> None:
    upload(tenant, b"0612345678\n", as_of="2026-08-01")
    add_consent(tenant)
    notice = tenant.check(callee=CALLEE).json()
    assert (notice["regime"], notice["decision"]) == ("opt_in", "allow")
    assert [(r["code"], r["severity"]) for r in notice["reasons"]] == [
        ("BLOCTEL_LISTED", "notice")]
    assert notice["penalty_eur"] == "0.00"
    # an old list is no reason to deny any more (the list's era ended on 2026-08-10)
    assert "BLOCTEL_LIST_STALE" not in codes(notice)

    r = tenant.client.patch("/v1/policy", json={"bloctel_after_opt_in": "block"},
                            headers={"Authorization": f"Bearer {tenant.admin}"})
    assert r.status_code == 200, r.text
    assert r.json()["bloctel_after_opt_in"] == "block"
    blocked = tenant.check(callee=CALLEE).json()
    assert (blocked["decision"], blocking(blocked)) == ("deny", ["BLOCTEL_LISTED"])

    r = tenant.client.patch("/v1/policy", json={"bloctel_after_opt_in": None},
                            headers={"Authorization": f"Bearer {tenant.admin}"})
    assert r.json()["bloctel_after_opt_in"] == "notice"
    assert tenant.check(callee=CALLEE).json()["decision"] == "allow"


def test_policy_rejects_unknown_values(tenant: Tenant) -> None:
    before = tenant.get("/v1/policy", role="admin").json()
    assert before["bloctel_after_opt_in"] == "notice"
    for body in ({"bloctel_after_opt_in": "sometimes"}, {"mobile_daily_cap": 0},
                 {"denied_attempt_penalty_eur": -1}, {"colour": "red"}, [], "block"):
        r = tenant.client.patch("/v1/policy", json=body,
                                headers={"Authorization": f"Bearer {tenant.admin}"})
        assert r.status_code == 422, body
    assert tenant.get("/v1/policy", role="admin").json() == before


def _numbers(start: int, count: int) -> list[int]:
    """``count`` distinct +33 6… keys."""
    return [33_600_000_000 + start + i for i in range(count)]


def _file(keys: list[int]) -> bytes:
    return "".join(f"+{k}\n" for k in keys).encode()


def test_a_checker_thread_sees_only_whole_versions_while_imports_run(db: Any) -> None:
    """While imports replace, add to and remove from the list, every look-up reads one whole
    version: the probes it finds listed are exactly that version's, never a mixture, never an
    empty stand-in."""
    import io
    import threading
    from datetime import date

    import numpy as np

    from app.bloctel.importer import import_file
    from app.bloctel.lookup import default_lookup
    from app.db import get_engine

    a, b, c = _numbers(0, 150_000), _numbers(200_000, 150_000), _numbers(400_000, 150_000)
    steps = [("replace", a), ("add", b), ("remove", a), ("replace", c + a[:1000]),
             ("add", b)]
    probes = np.array(a[::5000] + a[-1:] + b[::5000] + b[-1:] + c[::5000] + c[-1:])
    expected: dict[str | None, frozenset[int]] = {None: frozenset()}
    current: set[int] = set()
    for mode, keys in steps:
        current = set(keys) if mode == "replace" else (
            current | set(keys) if mode == "add" else current - set(keys))
        expected[mode + str(len(expected))] = frozenset(current & set(probes.tolist()))
    seen: set[tuple[str | None, frozenset[int]]] = set()  # (version, probes it listed)
    looks = 0
    stop = threading.Event()

    def checker() -> None:
        nonlocal looks
        lookup = default_lookup()
        while not stop.is_set():
            index = lookup.index()
            seen.add((index.import_id, frozenset(probes[index.contains_many(probes)].tolist())))
            seen.add((index.import_id, frozenset(p for p in probes.tolist() if p in index)))
            looks += 1
            stop.wait(0.002)  # yield the GIL: a dialer's look-ups are not a busy loop

    versions: dict[str | None, frozenset[int]] = {None: frozenset()}
    thread = threading.Thread(target=checker)
    thread.start()
    try:
        for i, (mode, keys) in enumerate(steps, start=1):
            report = import_file(get_engine(), io.BytesIO(_file(keys)), mode=mode,
                                 as_of=date(2026, 6, 1), force=True)
            versions[report["import_id"]] = list(expected.values())[i]
            assert report["version"] == i
    finally:
        stop.set()
        thread.join()
    assert looks > 10
    wrong = [(v, len(listed)) for v, listed in seen if listed != versions[v]]
    assert wrong == []
    assert len({v for v, _ in seen}) >= 3  # it did watch the swaps


def _gauge(text: str, name: str) -> float | None:
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_metrics_show_the_list_age_and_each_workers_version(tenant: Tenant, freeze) -> None:
    freeze("2026-06-15T10:00:00+02:00")
    empty = tenant.client.get("/metrics").text
    assert _gauge(empty, "gateway_bloctel_list_stale") == 1
    assert _gauge(empty, "gateway_bloctel_active_version") == 0

    assert upload(tenant, b"0611111111\n0622222222\n", as_of="2026-05-10").status_code == 201
    text = tenant.client.get("/metrics").text
    assert _gauge(text, "gateway_bloctel_list_age_days") == 36
    assert _gauge(text, "gateway_bloctel_list_stale") == 1
    assert _gauge(text, "gateway_bloctel_numbers") == 2
    assert _gauge(text, "gateway_bloctel_active_version") == 1
    assert _gauge(text, "gateway_bloctel_index_version") == 1

    freeze("2026-05-20T10:00:00+02:00")
    fresh = tenant.client.get("/metrics").text
    assert (_gauge(fresh, "gateway_bloctel_list_age_days"),
            _gauge(fresh, "gateway_bloctel_list_stale")) == (10, 0)
    ready = tenant.client.get("/readyz").json()
    assert ready["bloctel"] == {"version": 1, "numbers": 2}


@pytest.mark.parametrize(
    "content, status, words",
    [
        (gzip.compress(b"0611111111\n" * 1000)[:-30] + b"\x00" * 30, 422, "cannot read the file"),
        (gzip.compress(b"0611111111\n" * 1000)[:40], 422, "cannot read the file"),
        (b"0" * (70 << 10), 422, "not a list of telephone numbers"),
    ],
    ids=["damaged gzip", "truncated gzip", "no line end"],
)
def test_unreadable_files_are_422_and_recorded_as_failed(
    opt_out: Tenant, content: bytes, status: int, words: str
) -> None:
    assert upload(opt_out, b"0611111111\n").status_code == 201
    r = upload(opt_out, content)
    assert r.status_code == status, r.text
    assert words in r.json()["detail"]
    history = opt_out.get("/v1/bloctel/imports", role="operator").json()
    assert [(h["version"], h["status"]) for h in history] == [(2, "failed"), (1, "active")]
    assert opt_out.get("/v1/bloctel").json()["version"] == 1


def test_old_mac_line_ends_are_lines(opt_out: Tenant) -> None:
    r = upload(opt_out, b"0611111111\r0622222222\r0633333333", max_rejected=0)
    assert r.status_code == 201, r.text
    assert (r.json()["lines"], r.json()["accepted"]) == (3, 3)


def test_a_multipart_form_is_refused_with_how_to_send_the_file(opt_out: Tenant) -> None:
    r = opt_out.client.post(
        "/v1/bloctel/imports", params={"as_of": "2026-06-10"},
        files={"file": ("list.txt", b"0611111111\n", "text/plain")},
        headers={"Authorization": f"Bearer {opt_out.operator}"})
    assert r.status_code == 415, r.text
    assert "--data-binary" in r.json()["detail"]
    assert opt_out.get("/v1/bloctel/imports", role="operator").json() == []


def test_a_stalled_upload_fails_instead_of_holding_the_import_lock() -> None:
    """The body bridge (the import's thread reading the request as it arrives) gives up after
    the stall timeout without data (``upload_stalled``, 408), and after the wall-clock limit
    even if bytes keep trickling in (``upload_timeout``, 408). (The test client sends whole
    bodies, so the bridge is driven directly; tests/integration/test_upload_limits_live.py does
    it through a real server.)"""
    import anyio

    from app import uploads

    async def stalls() -> Any:
        yield b"0611111111\n"
        await anyio.sleep(5)
        yield b"0622222222\n"

    async def trickles() -> Any:
        for _ in range(50):
            yield b"0611111111\n"
            await anyio.sleep(0.1)

    class Request:
        def __init__(self, stream: Any) -> None:
            self._stream = stream

        def stream(self) -> Any:
            return self._stream()

    def read_all(stream: Any, stall_s: float, max_seconds: float) -> None:
        limits = uploads.Limits(max_bytes=1 << 20, setting="X", stall_s=stall_s,
                                max_seconds=max_seconds)

        async def go() -> None:
            body = uploads.Body(Request(stream), limits)  # type: ignore[arg-type]
            assert await anyio.to_thread.run_sync(body.read, 11) == b"0611111111\n"
            while await anyio.to_thread.run_sync(body.read, 100):
                pass

        anyio.run(go)

    with pytest.raises(uploads.UploadStalled, match="nothing received for 0 s"):
        read_all(stalls, stall_s=0.2, max_seconds=60)
    with pytest.raises(uploads.UploadTimeout, match="GATEWAY_UPLOAD_MAX_SECONDS"):
        read_all(trickles, stall_s=1, max_seconds=0.5)


def test_a_file_of_junk_stops_being_read_once_it_is_clearly_junk(opt_out: Tenant) -> None:
    """Past the first 1,000 lines, a block whose lines are mostly rejected stops the reading:
    the version is refused with the counts so far (``stopped_after_lines``), not read to its
    millionth line; ``force`` reads it whole."""
    junk = b"0611111111\n" * 10 + b"pas un numero\n" * 1_000_000
    r = upload(opt_out, junk)
    assert r.status_code == 422, r.text
    report = r.json()["import"]
    assert report["status"] == "refused"
    assert 1000 <= report["stopped_after_lines"] == report["lines"] < 500_000
    assert "stopped" in r.json()["detail"]
    assert report["rejected_samples"][0] == {
        "line": 11, "value": "pas un numero", "error": report["rejected_samples"][0]["error"]}
    forced = upload(opt_out, junk, force="true")
    assert forced.status_code == 201, forced.text
    assert (forced.json()["lines"], forced.json()["accepted"]) == (1_000_010, 1)


def test_the_byte_limit_counts_the_file_once_decompressed(
        opt_out: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    from app.config import get_settings

    monkeypatch.setenv("GATEWAY_BLOCTEL_MAX_BYTES", "1000000")
    get_settings.cache_clear()
    try:
        bomb = gzip.compress(b"0611111111\n" * 200_000)  # 2.2 MB of text, 10 KB sent
        r = upload(opt_out, bomb)
        assert r.status_code == 413, r.text
        assert r.json()["error"] == "upload_too_large"
        assert "GATEWAY_BLOCTEL_MAX_BYTES" in r.json()["detail"]
        history = opt_out.get("/v1/bloctel/imports", role="operator").json()
        assert [h["status"] for h in history] == ["failed"]
        assert upload(opt_out, b"0611111111\n" * 1000).status_code == 201
    finally:
        get_settings.cache_clear()
