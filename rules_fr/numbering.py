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

A number written with ``+33`` is accepted only if libphonenumber says it is valid under FR, and
is then classified with the metropolitan tables (conservative: "+33 9 47 5…" is not an overseas
canvassing number). If its national prefix is an overseas range, its ``region`` and
``time_zone`` are nevertheless the territory's, because that is where the consumer lives.
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


def _national(raw: str, digits: str) -> NumberInfo:
    if len(digits) != 10:
        return _invalid(raw)
    nsn = digits[1:]
    fr = _parse(digits, "FR")
    fr_valid = fr is not None and phonenumbers.is_valid_number(fr)
    if nsn[0] == "8" and fr_valid:
        return _info(raw, fr)
    overseas = _overseas(nsn)
    if overseas is not None:
        return _info(raw, overseas)
    if fr_valid:
        return _fr_info(raw, fr)
    return _invalid(raw, _e164(fr) if fr is not None else None)


def _fr_info(raw: str, n: PhoneNumber) -> NumberInfo:
    """A valid +33 number: metropolitan tables; the territory's zone for overseas ranges."""
    info = _info(raw, n, "FR")
    nsn = phonenumbers.national_significant_number(n)
    if nsn[0] == "8":
        return info
    overseas = _overseas(nsn)
    region = (
        phonenumbers.region_code_for_number(overseas)
        if overseas is not None
        else next((r for p, r in OVERSEAS_GEOGRAPHIC_PREFIXES if nsn.startswith(p)), None)
    )
    if region is None:
        return info
    return NumberInfo(
        raw=raw, e164=info.e164, kind=info.kind, region=region, time_zone=TIME_ZONES[region]
    )


def _plus33(raw: str, n: PhoneNumber) -> NumberInfo:
    if not phonenumbers.is_valid_number(n):
        return _invalid(raw, _e164(n))
    return _fr_info(raw, n)


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


def time_zone_for_region(region: str | None) -> str | None:
    """IANA zone of a French region code ("RE" → "Indian/Reunion"), None otherwise."""
    return TIME_ZONES.get(region or "")
