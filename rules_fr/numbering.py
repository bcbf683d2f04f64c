"""Parse and classify telephone numbers under the French numbering plan.

``classify(raw)`` never raises. What it accepts (strictly, only unambiguous forms):

* national French forms: ten digits starting with a single ``0``, with spaces, dots, dashes,
  slashes or parentheses as separators ("06 12 34 56 78", "06.12.34.56.78", "0612345678");
* international forms: ``+`` or ``00`` followed by a country calling code ("+33 6…",
  "0033 6…", "+262 692…", "+44…"); "+33 (0)6…" is tolerated;
* French short numbers (2 to 6 digits, no leading 0: "3949", "118 712").

Anything else, including "33612345678" (a country code without ``+`` or ``00``), letters,
and strings longer than ``MAX_RAW_LENGTH``, is ``INVALID``.

Overseas numbers written nationally ("0692 12 34 56") belong to their territory's country
code (+262 692 12 34 56), not to +33: libphonenumber's FR metadata rejects some of them and,
worse, accepts others (0596…, 0269…, 0508…, 09 475…). So a national number whose prefix is an
overseas range is resolved under the overseas regions *first* (Martinique, Guadeloupe and its
neighbours, Réunion/Mayotte, then Guiana, whose 09 76 pattern is the broadest); only numbers
starting 08 (special services, national by nature) are tried under FR first.

**One line, one key** (rules-fr.md §1). A number written with ``+33`` or ``0033`` is judged
exactly like its national form "0" + NSN: "+33 6 92 12 34 56" is 0692 12 34 56, the Réunion
mobile +262 692 12 34 56; "+33 2 69…" is Mayotte (+262 269…), "+33 9 475…"–"+33 9 479…" the
overseas NPV ranges, "+33 5 90…"/"+33 6 90…" Guadeloupe, "+33 5 08…" Saint-Pierre (+508…).
Every written form of one line (national, +33, 0033, "+33 (0)…", the territory's own code, the
+33 mis-form) therefore gives one E.164 key, region and zone. A +33 number no overseas metadata
claims keeps its +33 key (FR's metadata accepts some 0596… blocks Martinique's does not); its
region and zone are still the territory's when its prefix is an overseas geographic block.
Reading chosen where the plan is silent: a +33 form is never *more* valid than its national
form, and never less (an invalid national number stays invalid in every form).
"""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumber, PhoneNumberType, shortnumberinfo

from rules_fr.data import NUMBERING
from rules_fr.model import NumberInfo, NumberKind

MAX_RAW_LENGTH = 64

#: IANA zone the consumer is judged in, by region of the number (rules-fr.md §3).
TIME_ZONES = {
    "FR": "Europe/Paris",
    "RE": "Indian/Reunion",
    "YT": "Indian/Mayotte",
    "GP": "America/Guadeloupe",
    "BL": "America/Guadeloupe",
    "MF": "America/Guadeloupe",
    "MQ": "America/Martinique",
    "GF": "America/Cayenne",
    "PM": "America/Miquelon",
}
FRENCH_COUNTRY_CODES = frozenset({33, 262, 508, 590, 594, 596})
OVERSEAS_SEARCH_ORDER = ("MQ", "GP", "RE", "GF")  # most specific patterns first
SATELLITE_COUNTRY_CODES = frozenset({870, 881, 882, 883})
#: Overseas geographic national prefixes (ARCEP plan). libphonenumber's FR metadata accepts
#: some blocks of them as +33 numbers; the consumer is still in the territory.
OVERSEAS_GEOGRAPHIC_PREFIXES = (
    ("262", "RE"), ("263", "RE"), ("269", "YT"), ("508", "PM"),
    ("590", "GP"), ("594", "GF"), ("596", "MQ"),
)

_ALLOWED = re.compile(r"^\+?[0-9 .\-/()\u00a0\u202f\t]*$")
_NOT_DIGIT = re.compile(r"\D")

_TYPE_KIND = {
    PhoneNumberType.MOBILE: NumberKind.MOBILE,
    PhoneNumberType.FIXED_LINE_OR_MOBILE: NumberKind.MOBILE,  # conservative for CLI rules
    PhoneNumberType.FIXED_LINE: NumberKind.GEOGRAPHIC,
    PhoneNumberType.VOIP: NumberKind.NON_GEOGRAPHIC,
    PhoneNumberType.TOLL_FREE: NumberKind.TOLL_FREE,
    PhoneNumberType.SHARED_COST: NumberKind.SHARED_COST,
    PhoneNumberType.PREMIUM_RATE: NumberKind.PREMIUM_RATE,
}
_SPECIAL_8 = {  # rules-fr.md §2 (08 0x toll-free, 08 1x / 08 2x shared cost, 08 9x premium)
    "80": NumberKind.TOLL_FREE,
    "81": NumberKind.SHARED_COST,
    "82": NumberKind.SHARED_COST,
    "89": NumberKind.PREMIUM_RATE,
}


def _invalid(raw: str, e164: str | None = None) -> NumberInfo:
    return NumberInfo(raw=raw, e164=e164, kind=NumberKind.INVALID, region=None, time_zone=None)


def _e164(n: PhoneNumber) -> str:
    return phonenumbers.format_number(n, phonenumbers.PhoneNumberFormat.E164)


def _parse(text: str, region: str | None) -> PhoneNumber | None:
    try:
        return phonenumbers.parse(text, region)
    except NumberParseException:
        return None


def _french_kind(n: PhoneNumber) -> NumberKind:
    """Kind of a *valid* number of a French country code."""
    nsn = phonenumbers.national_significant_number(n)
    table = NUMBERING[-1]
    if nsn.startswith(table.canvassing_prefixes.get(n.country_code, ())):
        return NumberKind.CANVASSING
    if len(nsn) == 9 and nsn.startswith(table.platform_prefixes):
        return NumberKind.PLATFORM
    if len(nsn) == 9 and nsn[0] == "8" and nsn[:2] in _SPECIAL_8:
        return _SPECIAL_8[nsn[:2]]
    kind = _TYPE_KIND.get(phonenumbers.number_type(n), NumberKind.OTHER)
    if nsn[0] == "8" and kind in (NumberKind.GEOGRAPHIC, NumberKind.MOBILE):
        return NumberKind.OTHER  # 08 numbers some overseas metadata files as fixed lines
    return kind


def _info(raw: str, n: PhoneNumber, region: str | None = None) -> NumberInfo:
    region = region or phonenumbers.region_code_for_number(n)
    return NumberInfo(
        raw=raw,
        e164=_e164(n),
        kind=_french_kind(n),
        region=region,
        time_zone=TIME_ZONES.get(region or ""),
    )


def _number_patterns(region: str) -> list[str]:
    """The national-number patterns of every number type of ``region`` (what validity checks)."""
    m = phonenumbers.PhoneMetadata.metadata_for_region(region)
    descs = (
        m.fixed_line, m.mobile, m.toll_free, m.premium_rate, m.shared_cost, m.personal_number,
        m.voip, m.pager, m.uan, m.voicemail,
    )
    return [d.national_number_pattern for d in descs if d is not None and d.national_number_pattern]


# One pattern for "valid in some overseas search region": a metropolitan number (the common
# case) fails it in a few microseconds instead of being parsed once per region.
# (Regions sharing a country code share the parse: +262 is Réunion and Mayotte, +590 is
# Guadeloupe, Saint-Barthélemy and Saint-Martin.)
_OVERSEAS_REGIONS = sorted(
    {
        region
        for searched in OVERSEAS_SEARCH_ORDER
        for region in phonenumbers.region_codes_for_country_code(
            phonenumbers.country_code_for_region(searched)
        )
    }
)
_MAYBE_OVERSEAS = re.compile(
    "(?:" + "|".join(p for r in _OVERSEAS_REGIONS for p in _number_patterns(r)) + ")"
)


def _overseas(nsn: str) -> PhoneNumber | None:
    """The valid overseas number a 9-digit national significant number denotes, if any."""
    if nsn.startswith("508"):  # Saint-Pierre-et-Miquelon: 05 08 xx xx xx is +508 xx xx xx
        n = _parse("+508" + nsn[3:], None)
        if n is not None and phonenumbers.is_valid_number(n):
            return n
    if not _MAYBE_OVERSEAS.fullmatch(nsn):
        return None
    for region in OVERSEAS_SEARCH_ORDER:
        n = _parse("0" + nsn, region)
        if n is not None and phonenumbers.is_valid_number(n):
            return n
    return None


def may_be_overseas(nsn: str) -> bool:
    """False when the 9-digit national significant number ``nsn`` cannot be an overseas line
    (so "0" + nsn and "+33" + nsn are keyed +33 + nsn, or invalid): a cheap pre-filter for
    bulk re-keying (migration 0010)."""
    return nsn.startswith("508") or _MAYBE_OVERSEAS.fullmatch(nsn) is not None


def _national(raw: str, digits: str) -> NumberInfo:
    if len(digits) != 10:
        return _invalid(raw)
    return _french(raw, digits[1:], _parse(digits, "FR"))


def _french(raw: str, nsn: str, fr: PhoneNumber | None) -> NumberInfo:
    """The line a French national significant number denotes, however it was written.

    ``fr`` is ``nsn`` parsed as a +33 number. The national form ("0" + NSN) and the +33/0033
    forms are judged alike, so "+33 6 92…" is the Réunion mobile 0692… (+262 692…), never a
    second key for it: overseas ranges first (except 08, national by nature), then +33.
    """
    fr_valid = fr is not None and phonenumbers.is_valid_number(fr)
    if nsn[0] == "8" and fr_valid:
        return _info(raw, fr)  # type: ignore[arg-type]
    overseas = _overseas(nsn)
    if overseas is not None:
        return _info(raw, overseas)
    if fr_valid:
        return _fr_info(raw, fr)  # type: ignore[arg-type]
    return _invalid(raw, _e164(fr) if fr is not None else None)


def _fr_info(raw: str, n: PhoneNumber) -> NumberInfo:
    """A valid +33 number that no overseas territory's metadata claims: metropolitan tables,
    but the territory's zone when its prefix is an overseas geographic block (0596 12…,
    which FR's metadata accepts and Martinique's does not: the consumer is still there)."""
    info = _info(raw, n, "FR")
    nsn = phonenumbers.national_significant_number(n)
    region = next((r for p, r in OVERSEAS_GEOGRAPHIC_PREFIXES if nsn.startswith(p)), None)
    if region is None:
        return info
    return NumberInfo(
        raw=raw, e164=info.e164, kind=info.kind, region=region, time_zone=TIME_ZONES[region]
    )


def _plus33(raw: str, n: PhoneNumber) -> NumberInfo:
    """A number written +33/0033: judged exactly like its national form "0" + NSN."""
    nsn = phonenumbers.national_significant_number(n)
    if len(nsn) != 9 or n.italian_leading_zero:
        return _invalid(raw, _e164(n))
    return _french(raw, nsn, n)


def _international(raw: str, text: str) -> NumberInfo:
    n = _parse(text, None)
    if n is None:
        return _invalid(raw)
    cc = n.country_code
    if cc == 33:
        return _plus33(raw, n)
    valid = phonenumbers.is_valid_number(n)
    if cc in FRENCH_COUNTRY_CODES:
        return _info(raw, n) if valid else _invalid(raw, _e164(n))
    if cc in SATELLITE_COUNTRY_CODES and (valid or phonenumbers.is_possible_number(n)):
        return NumberInfo(raw, _e164(n), NumberKind.SATELLITE, "001", None)
    if not valid:
        return _invalid(raw, _e164(n))
    region = phonenumbers.region_code_for_number(n)
    if region == "001":  # international non-geographic services (+800, +808, +979…)
        kind = _TYPE_KIND.get(phonenumbers.number_type(n), NumberKind.SATELLITE)
        if kind not in (NumberKind.TOLL_FREE, NumberKind.SHARED_COST, NumberKind.PREMIUM_RATE):
            kind = NumberKind.SATELLITE
        return NumberInfo(raw, _e164(n), kind, region, None)
    return NumberInfo(raw, _e164(n), NumberKind.FOREIGN, region, None)


def _short(raw: str, digits: str) -> NumberInfo:
    n = _parse(digits, "FR")
    if n is not None and shortnumberinfo.is_valid_short_number_for_region(n, "FR"):
        return NumberInfo(raw, digits, NumberKind.SHORT_CODE, "FR", TIME_ZONES["FR"])
    return _invalid(raw)


def _classify_text(raw: str) -> NumberInfo:
    text = raw.strip()
    if not text or not _ALLOWED.match(text):
        return _invalid(raw)
    digits = _NOT_DIGIT.sub("", text)
    if not digits:
        return _invalid(raw)
    if text.startswith("+"):
        return _international(raw, text)
    if digits.startswith("00"):
        return _international(raw, "+" + digits[2:])
    if digits.startswith("0"):
        return _national(raw, digits)
    if 2 <= len(digits) <= 6:
        return _short(raw, digits)
    return _invalid(raw)


_classify = lru_cache(maxsize=65536)(_classify_text)


def classify(raw: str | None) -> NumberInfo:
    """Parse and classify ``raw``. Never raises; memoised (hot path)."""
    if raw is None:
        return _invalid("")
    if not isinstance(raw, str):
        try:
            raw = str(raw)
        except Exception:
            return _invalid("")
    if len(raw) > MAX_RAW_LENGTH:
        return _invalid(raw[:MAX_RAW_LENGTH])
    try:
        return _classify(raw)
    except Exception:  # libphonenumber must never take the gateway down
        return _invalid(raw)


def classify_uncached(raw: str) -> NumberInfo:
    """``classify`` without the memo: for bulk work (BLOCTEL imports) that would only evict
    the check path's hot numbers."""
    if len(raw) > MAX_RAW_LENGTH:
        return _invalid(raw[:MAX_RAW_LENGTH])
    try:
        return _classify_text(raw)
    except Exception:
        return _invalid(raw)


def is_mobile(info: NumberInfo | str | None) -> bool:
    """True for a mobile number (06/07 and the overseas mobile ranges)."""
    if not isinstance(info, NumberInfo):
        info = classify(info)
    return info.kind is NumberKind.MOBILE


def is_special_service(info: NumberInfo | str | None) -> bool:
    from rules_fr.model import SPECIAL_SERVICE_KINDS

    if not isinstance(info, NumberInfo):
        info = classify(info)
    return info.kind in SPECIAL_SERVICE_KINDS


def national_significant_number(info: NumberInfo | str | None) -> str | None:
    """The NSN ("612345678" for +33 6 12 34 56 78), or None when unparsable."""
    if not isinstance(info, NumberInfo):
        info = classify(info)
    if info.e164 is None or not info.e164.startswith("+"):
        return info.e164  # short codes keep their digits
    n = _parse(info.e164, None)
    return phonenumbers.national_significant_number(n) if n is not None else None


def national_format(info: NumberInfo | str | None) -> str | None:
    """French national display ("06 12 34 56 78"), or the international format otherwise."""
    if not isinstance(info, NumberInfo):
        info = classify(info)
    if info.e164 is None or not info.e164.startswith("+"):
        return info.e164
    n = _parse(info.e164, None)
    if n is None:
        return None
    fmt = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if n.country_code in FRENCH_COUNTRY_CODES
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return phonenumbers.format_number(n, fmt)


#: Overseas country codes whose lines the gateway keyed "+33" + national NSN before one line,
#: one key (issue 12): "+33 2 69…" was stored as +33269…, "+33 5 08…" as +33508….
_LEGACY_PLUS33 = {"262": "+33", "590": "+33", "594": "+33", "596": "+33", "508": "+33508"}


def legacy_key(e164: str) -> str | None:
    """The +33 key an older gateway may have stored for the overseas line ``e164``
    ("+262269601234" → "+33269601234"), or None for a line that never had another key.
    Only for what cannot be re-keyed: erasure tombstones are hashes of the key."""
    if not e164.startswith("+") or len(e164) < 8:
        return None
    head = _LEGACY_PLUS33.get(e164[1:4])
    return head + e164[4:] if head is not None else None


def time_zone_for_region(region: str | None) -> str | None:
    """IANA zone of a French region code ("RE" → "Indian/Reunion"), None otherwise."""
    return TIME_ZONES.get(region or "")
