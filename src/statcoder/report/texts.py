"""Texts of records shown in a report: redacted by default, raw only in a report marked internal.

Reports are written to be published. Any record text they show goes through the project's own
personal-data redaction (:class:`statcoder.quality.pii.PiiDetector`: e-mails, URLs, phone
numbers, national identifiers, names after a title or contact phrase). ``show_raw=True`` keeps
texts as they are; the report that shows them must then be built with ``internal=True``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

REDACTED_FEATURE = "<<REDACTED>>"


@dataclass
class ReportTexts:
    """How a report shows record texts (``show_raw`` False = redacted)."""

    show_raw: bool = False
    _detector: Any = field(default=None, repr=False)

    def _pii(self) -> Any:
        if self._detector is None:
            from statcoder.quality.pii import PiiDetector

            self._detector = PiiDetector()
        return self._detector

    def text(self, text: str) -> str:
        """``text`` as the report may show it."""
        return text if self.show_raw else self._pii().redact(text)

    def features(self, text: str, features: Sequence[str]) -> list[str]:
        """Model features (n-grams) of ``text`` as the report may show them: a feature that lies
        inside a span of personal data of ``text`` is replaced by ``<<REDACTED>>``."""
        if self.show_raw:
            return list(features)
        spans = [text[m.start:m.end].lower() for m in self._pii().find(text)]
        out = []
        for name in features:
            probe = name.replace("_", " ").strip().lower()
            out.append(REDACTED_FEATURE if probe and any(probe in span for span in spans) else name)
        return out
