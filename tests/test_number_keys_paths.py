"""One line, one key in the paths that key numbers without calling ``classify`` one by one:
the scrub's prefix templates, the bulk imports' parser and the registries' normaliser give the
canonical key for every written form, the +33 mis-form of an overseas line included."""

from __future__ import annotations

import pytest

from app.registries.bulk.fields import Numbers as _Numbers
from app.registries.service import normalise_callee
from app.scrub.numbers import Normaliser
from rules_fr.numbering import classify

LINES = [
    (("0269 60 12 34", "+33 2 69 60 12 34", "0033269601234", "+262 269 60 12 34"),
     "+262269601234"),
    (("0692 12 34 56", "+33 6 92 12 34 56", "+33 (0)6 92 12 34 56", "+262692123456"),
     "+262692123456"),
    (("0947 65 05 71", "+33 9 47 65 05 71", "+594 947 65 05 71"), "+594947650571"),
    (("05 08 41 12 34", "+33 5 08 41 12 34", "+508 41 12 34"), "+508411234"),
    (("06 12 34 56 78", "+33 6 12 34 56 78", "0033 6 12 34 56 78"), "+33612345678"),
]


@pytest.mark.parametrize(("forms", "key"), LINES, ids=[k for _, k in LINES])
def test_scrub_and_registries_key_every_form_as_classify(forms, key) -> None:
    normalise = Normaliser()
    for raw in forms:
        for _ in range(2):  # the first number under a prefix derives its template, then reuses it
            info = normalise(raw)
            assert (info.e164, info.region) == (key, classify(key).region), raw
        assert normalise_callee(raw) == key
    assert _Numbers()(list(forms)) == [key] * len(forms)  # bulk imports (the BLOCTEL parser)
