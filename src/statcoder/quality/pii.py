"""Personal data in free text: detection and redaction before training.

Rule-based, language-aware for English, Polish and Spanish: e-mail addresses, URLs,
phone numbers (international ``+48``/``0034`` prefixes, Polish and Spanish 9-digit numbers,
UK/US formats), national identifiers with their check digits (``national_ids``), and
person-name-like tokens (a title or a contact phrase followed by capitalised words:
"Pani Anna Kowalska", "Sr. García", "Dr Jane Smith", "persona de contacto: María López").

Rules favour recall on the obvious cases and stay simple to audit; they do not find every
name (a bare "Anna Kowalska" without a title is not flagged) and may redact a few non-personal
numbers that look like phone numbers (e.g. 9-10 digit registry numbers). Redaction replaces a
match by a placeholder such as ``<<PHONE>>`` (the convention of the OJALAB data).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import pandas as pd

from statcoder.errors import ConfigurationError, InputError
from statcoder.quality.national_ids import NATIONAL_ID_PATTERNS, IdPattern

KINDS = ("email", "url", "national_id", "phone", "name")
PLACEHOLDERS = {
    "email": "<<EMAIL>>",
    "url": "<<URL>>",
    "national_id": "<<ID>>",
    "phone": "<<PHONE>>",
    "name": "<<NAME>>",
}

_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,}(?![\w-])")
_URL = re.compile(
    r"(?:\bhttps?://|\bwww\.)[^\s<>\"']+"
    r"|\b[\w-]+(?:\.[\w-]+)*\.(?:com|org|net|eu|pl|es|uk|de|fr|gov|edu|info|io)/[^\s<>\"']*",
    re.IGNORECASE,
)
_PHONE = re.compile(
    r"(?<![\w+/.,-])"
    r"(?:(?:\+|00)\d{1,3}[ .-]?)?"  # country prefix
    r"(?:\(\d{1,4}\)[ .-]?)?"  # area code in parentheses
    r"(?:\d{2,4}(?:[ .-]\d{2,4}){1,4}|\d{9,10}|0\d{10})"
    r"(?![\w]|[.,-]\d)"
)
_DATE = re.compile(r"\d{1,4}[./-]\d{1,2}[./-]\d{1,4}")

# Words that follow a title or contact phrase without being names (job ads, offices).
_NOT_NAMES = frozenset(
    """
    developer engineer manager software java python data analyst consultant specialist sales
    account project product frontend backend full stack director executive associate accountant
    designer architect test tester devops scientist lead senior junior marketing business
    operations technician office excel word recruitment team department hr support customer
    service services company group the and of for with worker workers operator helper tender
    cleaner washer supervisor assistant attendant machine
    specjalista kierownik programista inżynier dyrektor asystent biuro dział zespół firma spółka
    rekrutacji kadr obsługi klienta sprzedaży
    ingeniero desarrollador técnico analista gerente responsable consultor administrativo
    comercial oficina departamento recursos humanos empresa equipo atención cliente
    """.split()  # noqa: SIM905 - a word list reads better as text
)

_TITLE = (
    r"(?:Mr|Mrs|Ms|Mx|Miss|Dr|Prof|Sir|Madam|Dame"
    r"|[Pp]an(?:i|a|u|em|ią|ie)?|[Pp]rof|dr|mgr|inż|hab"
    r"|Sr|Sra|Srta|Sres|Dra|[Dd]on|[Dd]oña|Dña)"
)
_TITLE_NAME = re.compile(
    rf"(?<![\w.])(?P<title>(?:{_TITLE}\.?\s+)+)(?P<name>(?:[^\W\d_][\w'’-]*[ \t]*){{1,3}})"
)
_CONTACT_NAME = re.compile(
    r"(?i:contact person|contact\s*:|osoba kontaktowa|osoba do kontaktu|kontakt\s*:|kontakt z"
    r"|persona de contacto|contactar con|preguntar por"
    r"|ask for|asking for|speak to|speak with|talk to|write to|apply to|report to)\s*[:\-–]?\s*"
    rf"(?:{_TITLE}\.?\s+)*"
    r"(?P<name>(?:[^\W\d_][\w'’-]*[ \t]*){2,3})"
)
_CONTACT_CUES = ("contact", "kontakt", "contactar", "preguntar", "ask", "speak", "talk to", "write to", "apply to",
                 "report to")
# Titles that are also ordinary words in English job titles ("Pan Washer", "Steel Pan Operator").
_AMBIGUOUS_TITLES = frozenset({"Pan", "Pani", "Don", "Miss", "Sir", "Dame", "Madam"})
_AGENT_SUFFIX = re.compile(r"(?:er|or|ers|ors|ing)$")
_PRECEDING_WORD = re.compile(r"([^\W\d_][\w'’-]*)[ \t]+$")


@dataclass(frozen=True)
class PiiMatch:
    """A span ``[start, end)`` of personal data of ``kind`` (``label`` names the rule, e.g. ``PESEL``)."""

    kind: str
    label: str
    start: int
    end: int


@dataclass
class PiiSummary:
    """Counts of personal data found in a list of texts (never the texts themselves).

    ``matches``: number of matches per kind; ``records``: number of records with at least one
    match per kind; ``by_label``: matches per rule label; ``n_records`` / ``n_touched``: records
    scanned / records with any match; ``touched``: per-record flag (list of bools).
    """

    n_records: int
    n_touched: int
    matches: dict[str, int]
    records: dict[str, int]
    by_label: dict[str, int]
    touched: list[bool] = field(repr=False, default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        """One row per kind: kind, matches, records (count and share of records, 0-1)."""
        rows = [
            {
                "kind": k,
                "matches": self.matches.get(k, 0),
                "records": self.records.get(k, 0),
                "share_of_records": self.records.get(k, 0) / self.n_records if self.n_records else 0.0,
            }
            for k in KINDS
        ]
        return pd.DataFrame(rows)


def _capitalised(word: str) -> bool:
    core = word.strip("'’-")
    return len(core) >= 2 and core[0].isupper() and core[1:].replace("-", "").replace("'", "").islower()


def _name_span(text: str, match: re.Match[str], *, min_words: int) -> tuple[int, int] | None:
    start = match.start("name")
    words = list(re.finditer(r"[^\W\d_][\w'’-]*", match.group("name")))
    kept = []
    stopped_by_job_word = False
    for w in words:
        token = w.group(0)
        if not _capitalised(token):
            break
        if token.casefold().strip("'’-") in _NOT_NAMES:
            stopped_by_job_word = True
            break
        kept.append(w)
    if len(kept) < min_words:
        return None
    title = match.groupdict().get("title")
    last_title = title.split()[-1].rstrip(".") if title else ""
    if last_title in _AMBIGUOUS_TITLES:
        if stopped_by_job_word:
            return None
        # Title Case text ("Steel Pan Form Placer") is not a name introduction, and a single
        # agent noun after it ("Pan Operator") is a job title
        before = _PRECEDING_WORD.search(text, 0, match.start())
        if before and _capitalised(before.group(1)):
            return None
        if len(kept) == 1 and _AGENT_SUFFIX.search(kept[0].group(0)):
            return None
    return start + kept[0].start(), start + kept[-1].end()


class PiiDetector:
    """Finds and redacts personal data in texts.

    ``kinds`` selects what to look for (subset of ``email``, ``url``, ``national_id``,
    ``phone``, ``name``); ``countries`` selects the national-identifier patterns from
    ``NATIONAL_ID_PATTERNS`` (ISO alpha-2 codes); ``extra_id_patterns`` adds user patterns;
    ``placeholders`` overrides the replacement text per kind.
    """

    def __init__(
        self,
        *,
        kinds: Sequence[str] = KINDS,
        countries: Sequence[str] = ("PL", "ES", "GB", "US"),
        extra_id_patterns: Iterable[IdPattern] = (),
        placeholders: dict[str, str] | None = None,
    ) -> None:
        self.kinds = tuple(kinds)
        self.countries = tuple(countries)
        self.extra_id_patterns = tuple(extra_id_patterns)
        self.placeholders = placeholders
        unknown = [k for k in self.kinds if k not in KINDS]
        if unknown:
            raise ConfigurationError(f"unknown personal-data kinds: {', '.join(unknown)}", hint=f"use {', '.join(KINDS)}")
        missing = [c for c in self.countries if c.upper() not in NATIONAL_ID_PATTERNS]
        if missing:
            raise ConfigurationError(
                f"no national-identifier patterns for {', '.join(missing)}",
                hint=f"known countries: {', '.join(sorted(NATIONAL_ID_PATTERNS))}; add your own with extra_id_patterns",
            )
        patterns = [p for c in self.countries for p in NATIONAL_ID_PATTERNS[c.upper()]] + list(self.extra_id_patterns)
        self._ids = [(p, p.compiled()) for p in patterns]
        self._placeholders = {**PLACEHOLDERS, **(placeholders or {})}

    def _candidates(self, text: str) -> list[PiiMatch]:
        found: list[PiiMatch] = []
        # cheap pre-checks skip regexes that cannot match (most texts have no digits, '@' or '/')
        has_digit = any(ch.isdigit() for ch in text)
        if "email" in self.kinds and "@" in text:
            found += [PiiMatch("email", "email", m.start(), m.end()) for m in _EMAIL.finditer(text)]
        if "url" in self.kinds and ("/" in text or "www." in text.lower()):
            for m in _URL.finditer(text):
                end = m.end()
                while end > m.start() and text[end - 1] in ".,;:!?)]}":
                    end -= 1
                found.append(PiiMatch("url", "url", m.start(), end))
        if "national_id" in self.kinds and has_digit:
            for pattern, regex in self._ids:
                for m in regex.finditer(text):
                    value = m.group(pattern.group)
                    if pattern.validate is None or pattern.validate(value):
                        found.append(PiiMatch("national_id", pattern.name, m.start(pattern.group), m.end(pattern.group)))
        if "phone" in self.kinds and has_digit:
            for m in _PHONE.finditer(text):
                if self._is_phone(m.group(0)):
                    found.append(PiiMatch("phone", "phone", m.start(), m.end()))
        if "name" in self.kinds:
            lowered = text.casefold()
            regexes = [(_TITLE_NAME, 1)]
            if any(cue in lowered for cue in _CONTACT_CUES):
                regexes.append((_CONTACT_NAME, 2))
            for regex, min_words in regexes:
                for m in regex.finditer(text):
                    span = _name_span(text, m, min_words=min_words)
                    if span:
                        found.append(PiiMatch("name", "name", *span))
        return found

    @staticmethod
    def _is_phone(candidate: str) -> bool:
        digits = sum(ch.isdigit() for ch in candidate)
        international = candidate.startswith(("+", "00"))
        if _DATE.fullmatch(candidate):
            return False
        return 8 <= digits <= 15 if international else 9 <= digits <= 11

    def find(self, text: str) -> list[PiiMatch]:
        """Non-overlapping matches in ``text``, in text order.

        Overlaps are resolved by kind priority (e-mail, URL, national id, phone, name), then by
        the longer match.
        """
        if not text:
            return []
        priority = {k: i for i, k in enumerate(KINDS)}
        chosen: list[PiiMatch] = []
        for cand in sorted(self._candidates(text), key=lambda m: (priority[m.kind], -(m.end - m.start), m.start)):
            if all(cand.end <= c.start or cand.start >= c.end for c in chosen):
                chosen.append(cand)
        return sorted(chosen, key=lambda m: m.start)

    def redact(self, text: str) -> str:
        """``text`` with every match replaced by its kind's placeholder."""
        return self._replace(text, self.find(text))

    def scan(self, texts: Sequence[str]) -> PiiSummary:
        """Count matches per kind and records touched, without changing the texts."""
        return self._run(texts, redact=False)[1]

    def redact_texts(self, texts: Sequence[str]) -> tuple[list[str], PiiSummary]:
        """Redacted copies of ``texts`` and the summary of what was found."""
        out, summary, _ = self._run(texts, redact=True)
        return out, summary

    def _run(self, texts: Sequence[str], *, redact: bool) -> tuple[list[str], PiiSummary, list[set[str]]]:
        matches: Counter[str] = Counter()
        records: Counter[str] = Counter()
        labels: Counter[str] = Counter()
        touched: list[bool] = []
        out: list[str] = []
        kinds_per_record: list[set[str]] = []
        for text in texts:
            text = "" if text is None else str(text)
            found = self.find(text)
            touched.append(bool(found))
            for m in found:
                matches[m.kind] += 1
                labels[m.label] += 1
            kinds = {m.kind for m in found}
            kinds_per_record.append(kinds)
            for kind in kinds:
                records[kind] += 1
            if redact:
                out.append(self._replace(text, found))
        summary = PiiSummary(len(touched), sum(touched), dict(matches), dict(records), dict(labels), touched)
        return out, summary, kinds_per_record

    def _replace(self, text: str, found: list[PiiMatch]) -> str:
        if not found:
            return text
        parts, last = [], 0
        for m in found:
            parts += [text[last : m.start], self._placeholders[m.kind]]
            last = m.end
        parts.append(text[last:])
        return "".join(parts)


def redact_frame(
    frame: pd.DataFrame, columns: Sequence[str], *, detector: PiiDetector | None = None
) -> tuple[pd.DataFrame, PiiSummary]:
    """Copy of ``frame`` with personal data redacted in ``columns``, and the summary.

    A record counts as touched when any of its columns had a match; match counts are summed
    over the columns.
    """
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(f"columns not in the data: {', '.join(missing)}", hint=f"available: {', '.join(map(str, frame.columns))}")
    detector = detector or PiiDetector()
    out = frame.copy()
    total_matches: Counter[str] = Counter()
    labels: Counter[str] = Counter()
    per_kind_rows: dict[str, set[int]] = {}
    touched = [False] * len(frame)
    for col in columns:
        values = out[col].fillna("").astype(str).tolist()
        redacted, summary, kinds_per_record = detector._run(values, redact=True)
        out[col] = redacted
        total_matches.update(summary.matches)
        labels.update(summary.by_label)
        for i, kinds in enumerate(kinds_per_record):
            if kinds:
                touched[i] = True
                for kind in kinds:
                    per_kind_rows.setdefault(kind, set()).add(i)
    summary = PiiSummary(
        len(frame), sum(touched), dict(total_matches), {k: len(v) for k, v in per_kind_rows.items()}, dict(labels), touched
    )
    return out, summary
