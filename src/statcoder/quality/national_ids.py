"""National identification numbers: per-country patterns with their check digits.

A pattern finds candidates in free text; its validator keeps only numbers whose check digit
(or other structural rule) holds, so that an arbitrary 11-digit number is not taken for a
PESEL. Countries are keyed by ISO 3166 alpha-2 code; users add their own ``IdPattern``s.

Rules implemented (sources: the issuing authorities' published algorithms):

* PL PESEL - 11 digits, weights 1,3,7,9,1,3,7,9,1,3, check ``(10 - sum mod 10) mod 10``,
  and a valid birth date (month + 20/40/60/80 encodes the century).
* PL NIP - 10 digits after the word "NIP", weights 6,5,7,2,3,4,5,6,7, check ``sum mod 11``.
* ES DNI - 8 digits + letter ``TRWAGMYFPDXBNJZSQVHLCKE[n mod 23]``; NIE - X/Y/Z (= 0/1/2)
  + 7 digits + the same check letter.
* GB National Insurance number - 2 letters (HMRC's allowed first/second letters, without the
  prefixes BG GB NK KN TN NT ZZ), 6 digits, suffix A-D.
* US Social Security number - ``AAA-GG-SSSS`` written with dashes or spaces; area not 000,
  666 or 900-999, group not 00, serial not 0000.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class IdPattern:
    """A national identifier: ``regex`` finds candidates, ``validate`` (if any) confirms them.

    ``group`` is the regex group that holds the identifier itself (0 = whole match); text
    around it (e.g. the word "NIP") is context and is not redacted.
    """

    name: str
    country: str
    regex: str
    validate: Callable[[str], bool] | None = None
    group: int = 0
    flags: int = 0

    def compiled(self) -> re.Pattern[str]:
        """The compiled regular expression."""
        return re.compile(self.regex, self.flags)


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def pesel_is_valid(text: str) -> bool:
    """True when ``text`` (11 digits) has a valid PESEL check digit and birth date."""
    d = _digits(text)
    if len(d) != 11:
        return False
    weights = (1, 3, 7, 9, 1, 3, 7, 9, 1, 3)
    check = (10 - sum(int(x) * w for x, w in zip(d, weights)) % 10) % 10
    if check != int(d[10]):
        return False
    year, month, day = int(d[0:2]), int(d[2:4]), int(d[4:6])
    offset = (month // 20) * 20
    century = {0: 1900, 20: 2000, 40: 2100, 60: 2200, 80: 1800}.get(offset)
    if century is None:
        return False
    try:
        _dt.date(century + year, month - offset, day)
    except ValueError:
        return False
    return True


def nip_is_valid(text: str) -> bool:
    """True when ``text`` holds 10 digits with a valid Polish NIP check digit."""
    d = _digits(text)
    if len(d) != 10:
        return False
    total = sum(int(x) * w for x, w in zip(d, (6, 5, 7, 2, 3, 4, 5, 6, 7)))
    return total % 11 != 10 and total % 11 == int(d[9])


_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"


def dni_nie_is_valid(text: str) -> bool:
    """True when ``text`` is a Spanish DNI (8 digits + letter) or NIE (X/Y/Z + 7 digits + letter) with the right letter."""
    t = re.sub(r"[\s-]", "", text).upper()
    if re.fullmatch(r"[XYZ]\d{7}[A-Z]", t):
        t = str("XYZ".index(t[0])) + t[1:]
    if not re.fullmatch(r"\d{8}[A-Z]", t):
        return False
    return _DNI_LETTERS[int(t[:8]) % 23] == t[8]


def ssn_is_valid(text: str) -> bool:
    """True when ``text`` (9 digits) respects the SSA's rules: area not 000/666/9xx, group not 00, serial not 0000."""
    d = _digits(text)
    if len(d) != 9:
        return False
    area, group, serial = d[:3], d[3:5], d[5:]
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


NATIONAL_ID_PATTERNS: dict[str, tuple[IdPattern, ...]] = {
    "PL": (
        IdPattern("PESEL", "PL", r"(?<![\d\w])\d{11}(?![\d\w])", pesel_is_valid),
        IdPattern(
            "NIP",
            "PL",
            r"\bNIP\b[:.]?\s*(?:PL\s?)?(\d{3}[- ]?\d{3}[- ]?\d{2}[- ]?\d{2}|\d{3}[- ]?\d{2}[- ]?\d{2}[- ]?\d{3})(?!\d)",
            nip_is_valid,
            group=1,
            flags=re.IGNORECASE,
        ),
    ),
    "ES": (
        IdPattern("DNI", "ES", r"(?<![\w-])\d{8}[- ]?[A-Za-z](?![\w])", dni_nie_is_valid),
        IdPattern("NIE", "ES", r"(?<![\w-])[XYZxyz][- ]?\d{7}[- ]?[A-Za-z](?![\w])", dni_nie_is_valid),
    ),
    "GB": (
        IdPattern(
            "NINO",
            "GB",
            r"(?<![\w])(?!BG|GB|NK|KN|TN|NT|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]"
            r" ?\d{2} ?\d{2} ?\d{2} ?[A-D](?![\w])",
        ),
    ),
    "US": (
        IdPattern("SSN", "US", r"(?<![\d-])\d{3}[- ]\d{2}[- ]\d{4}(?![\d-])", ssn_is_valid),
    ),
}
