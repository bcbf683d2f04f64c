"""Property tests: totality, decision consistency, and rescheduling correctness."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rules_fr import NumberKind, classify, evaluate

from .factories import PARIS, consent, make

ZONES = [ZoneInfo(z) for z in ("Europe/Paris", "UTC", "Indian/Reunion", "America/Cayenne",
                               "Asia/Tokyo", "America/Miquelon")]
instants = st.datetimes(
    min_value=datetime(2022, 6, 1), max_value=datetime(2028, 12, 31),
    timezones=st.sampled_from(ZONES), allow_imaginary=False,
)
phone_like = st.one_of(
    st.text(),
    st.text(alphabet="0123456789 +.-()/", max_size=30),
    st.from_regex(r"\A(\+|00)?[0-9]{1,16}\Z", fullmatch=True),
    st.from_regex(r"\A0[1-9]( ?[0-9]{2}){4}\Z", fullmatch=True),
    st.from_regex(r"\A\+(33|262|590|594|596|508|881|44)[0-9]{4,12}\Z", fullmatch=True),
)
FRENCH = ["0612345678", "0140000000", "0692123456", "0639201234", "0690123456", "0696123456",
          "0694123456", "0508411234", "0162000001"]
CLIS = ["+33162000001", "0947512345", "0140000000", "0781234567", "0899123456", None]
SETTINGS = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(raw=phone_like)
def test_classify_never_raises_and_is_consistent(raw):
    info = classify(raw)
    assert info.valid == (info.kind is not NumberKind.INVALID)
    if info.valid:
        assert info.e164
    if info.french:
        assert info.valid and info.region is not None


@SETTINGS
@given(callee=phone_like, caller=st.one_of(st.none(), phone_like), at=instants,
       automated=st.booleans(), purpose=st.sampled_from(["commercial", "non_commercial"]))
def test_evaluate_never_raises_on_any_text(callee, caller, at, automated, purpose):
    d = evaluate(make(at, callee=callee, caller=caller, automated=automated, purpose=purpose))
    assert (d.decision == "deny") == any(r.severity == "block" for r in d.reasons)
    assert d.regime in ("opt_out", "opt_in")
    assert d.ruleset_version.startswith("fr-")


@st.composite
def time_based_facts(draw):
    """Facts whose only possible blocks are time-based (hours, frequency, refusal, …).

    Press subscriptions are exempt from the Bloctel checks, whose staleness does not reschedule.
    A fresh consent follows every refusal, so that an opt-in withdrawal is not permanent.
    """
    at = draw(instants)
    callee = draw(st.sampled_from(FRENCH))
    offsets = draw(st.lists(st.integers(0, 40 * 24 * 60), max_size=7))
    attempts = tuple(at - timedelta(minutes=m) for m in offsets)
    refusals = tuple(at - timedelta(minutes=m)
                     for m in draw(st.lists(st.integers(1, 90 * 24 * 60), max_size=2)))
    quarantine = draw(st.one_of(st.none(), st.integers(-3000, 30 * 24 * 60)))
    consents = [consent(given_at=datetime(2020, 1, 1, tzinfo=PARIS))]
    if draw(st.booleans()):
        consents.append(consent("outside_hours", given_at=datetime(2020, 1, 1, tzinfo=PARIS)))
    if refusals:
        consents.append(consent(given_at=max(refusals) + timedelta(seconds=1)))
    mobile_volume = draw(st.booleans())
    return make(
        at, callee=callee, counted_attempts=attempts, refusals=refusals,
        quarantined_until=None if quarantine is None else at + timedelta(minutes=quarantine),
        consents=tuple(consents), sector="press_subscription", as_of=None,
        caller="0781234567" if mobile_volume else "+33162000001", assigned_to="a1",
        agent_id="a1", mobile_cli_attempts=1000 if mobile_volume else 0,
        mobile_cli_day=at.astimezone(PARIS).date(),
    )


@SETTINGS
@given(facts=time_based_facts())
def test_next_allowed_at_is_later_allowed_and_tight(facts):
    d = evaluate(facts)
    if d.allowed:
        assert d.next_allowed_at is None
        return
    assert all(r.retry_at is not None for r in d.reasons if r.severity == "block")
    nxt = d.next_allowed_at
    assert nxt is not None and nxt > facts.at
    assert nxt.tzinfo is not None and nxt.utcoffset() is not None
    assert evaluate(replace(facts, at=nxt)).allowed
    # the earliest such instant: one second before is still denied
    if nxt - timedelta(seconds=1) > facts.at:
        assert not evaluate(replace(facts, at=nxt - timedelta(seconds=1))).allowed
