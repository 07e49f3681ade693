"""The panel's language: message catalogs and the way numbers, shares and dates are written.

Everything a panellist or a reader of the report receives goes through a :class:`Language`:
the questionnaire, the cover letter, the e-mails and the report. The terminal stays in English.

Catalogs are gettext ``.po`` files, ``delphi/locale/<language>/LC_MESSAGES/delphi.po``,
extracted from the templates and the code with ``pybabel`` (see ``babel.cfg`` and the README's
"Translations" section) and compiled in memory when first used, so a ``.mo`` file can never be
stale. A study corrects or adds a translation with ``locale/<language>.po`` in its folder; its
translated messages replace the shipped ones, the others stay as shipped (or English).
Numbers, percentages, dates and lists are formatted by Babel from CLDR: ``7,5`` and ``75 %`` in
French.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

from delphi.core.stats import round_half_up
from delphi.errors import DelphiError, Problem

DOMAIN = "delphi"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DEFAULT = "en"
DASH = "–"  # printed for a number that is not there


def shipped_languages() -> list[str]:
    """The languages the package has a catalog for (``en`` is the source language)."""
    return sorted(p.name for p in LOCALE_DIR.iterdir()
                  if (p / "LC_MESSAGES" / f"{DOMAIN}.po").is_file())


def study_catalog_path(study_root: Path, tag: str) -> Path:
    """Where a study keeps its own translation for ``tag``."""
    return study_root / "locale" / f"{tag}.po"


@dataclass(frozen=True)
class Language:
    """A language of the panel: its translations and its ways of writing numbers and dates."""

    tag: str
    locale: Any  # babel.Locale
    translations: Any  # babel.support.Translations (a gettext.GNUTranslations)
    _cache: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def rtl(self) -> bool:
        """Whether the language is written right to left."""
        return bool(self.locale.character_order == "right-to-left")

    @property
    def direction(self) -> str:
        """The HTML ``dir`` of the language: ``ltr`` or ``rtl``."""
        return "rtl" if self.rtl else "ltr"

    def gettext(self, message: str) -> str:
        """The translation of ``message``."""
        return str(self.translations.gettext(message))

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        """The translation of ``singular`` or ``plural``, as the language's rule for ``n`` says."""
        return str(self.translations.ngettext(singular, plural, n))

    def _(self, message: str, **values: object) -> str:
        """The translation of ``message`` with its ``%(name)s`` placeholders filled."""
        text = self.gettext(message)
        return text % values if values else text

    def n_(self, singular: str, plural: str, n: int, **values: object) -> str:
        """A plural message, with ``%(num)s`` (the number) and other placeholders filled."""
        return self.ngettext(singular, plural, n) % {"num": n, **values}

    # --------------------------------------------------------------- numbers, shares, dates

    def number(self, value: float | None, decimals: int = 1) -> str:
        """A statistic as printed: rounded half up to ``decimals`` (``7,5`` in French)."""
        from babel.numbers import format_decimal

        if value is None:
            return DASH
        pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
        return str(format_decimal(round_half_up(value, decimals), format=pattern,
                                  locale=self.locale))

    def integer(self, value: int) -> str:
        """A count as printed."""
        from babel.numbers import format_decimal

        return str(format_decimal(value, locale=self.locale))

    def percent(self, share: float | None, decimals: int = 0) -> str:
        """A share (0 to 1) as a percentage rounded half up (``75 %`` in French)."""
        from babel.numbers import format_percent

        if share is None:
            return DASH
        key = f"percent{decimals}"
        if key not in self._cache:
            pattern = str(self.locale.percent_formats[None].pattern)
            if decimals:  # the locale's pattern, with decimals after its last digit
                pattern = re.sub(r"0(?=[^0#]*$)", "0." + "0" * decimals, pattern, count=1)
            self._cache[key] = pattern
        rounded = round_half_up(share * 100, decimals) / 100
        return str(format_percent(rounded, format=self._cache[key], locale=self.locale))

    def date(self, day: date) -> str:
        """A date written out (``12 janvier 2027``)."""
        from babel.dates import format_date

        return str(format_date(day, format="long", locale=self.locale))

    def join(self, parts: Sequence[str]) -> str:
        """A list in words (``a, b et c``)."""
        from babel.lists import format_list

        return str(format_list(list(parts), locale=self.locale)) if parts else ""


def parse_tag(tag: str) -> Any:
    """The Babel locale of a BCP 47 tag (``fr``, ``pt-BR``, ``zh-Hant``); ``ValueError`` if none."""
    from babel import Locale, UnknownLocaleError

    try:
        return Locale.parse(tag.replace("_", "-"), sep="-")
    except (UnknownLocaleError, ValueError, TypeError) as exc:
        raise ValueError(f"{tag!r} is not a language Babel knows (a BCP 47 tag such as en, fr, "
                         f"de, es, pt-BR): {exc}") from None


def _catalog_candidates(locale: Any) -> list[str]:
    """Catalog names to try for a locale, most specific first (``pt_BR``, ``pt``)."""
    names = [str(locale)]
    if locale.territory or locale.script:
        names.append(locale.language)
    return names


def _read(path: Path, locale: Any, shown: str) -> Any:
    """A ``.po`` file as a Babel catalog; a broken file is an error naming its line."""
    from babel.messages.pofile import PoFileError, read_po

    try:
        with path.open("rb") as handle:
            return read_po(handle, locale=locale, domain=DOMAIN, abort_invalid=True)
    except PoFileError as exc:
        raise DelphiError(Problem(f"not a valid message catalog: {exc}", file=shown)) from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise DelphiError(Problem(f"cannot be read as a message catalog: {exc}",
                                  file=shown)) from None


def _checked(catalog: Any, shown: str) -> None:
    """Refuse translations whose placeholders differ from the message's (``%(round)s``)."""
    problems = []
    for message, errors in catalog.check():
        for error in errors:
            problems.append(Problem(f"message {message.id!r}: {error}", file=shown,
                                    line=message.lineno))
    if problems:
        raise DelphiError(problems)


@lru_cache(maxsize=16)
def _load(tag: str, study_po: str | None, stamp: float, shown: str | None) -> Language:
    from babel.messages.catalog import Catalog
    from babel.messages.mofile import write_mo
    from babel.support import Translations

    locale = parse_tag(tag)
    catalog = None
    for name in _catalog_candidates(locale):
        path = LOCALE_DIR / name / "LC_MESSAGES" / f"{DOMAIN}.po"
        if path.is_file():
            catalog = _read(path, locale, str(path))
            break
    if study_po is not None:
        own = _read(Path(study_po), locale, shown or study_po)
        _checked(own, shown or study_po)
        if catalog is None:
            catalog = own
        else:
            for message in own:
                if message.id and message.string and not message.fuzzy and (
                        not isinstance(message.string, tuple) or all(message.string)):
                    shipped = catalog.get(message.id)
                    if shipped is None:
                        catalog[message.id] = message
                    else:  # Catalog.__setitem__ would keep the shipped string
                        shipped.string = message.string
    if catalog is None:
        if locale.language != DEFAULT:
            raise DelphiError(Problem(
                f"language: {tag}: delphi has no catalog for this language (it has "
                f"{', '.join(shipped_languages())}); add one as locale/{tag}.po in the study "
                f"folder (start from a copy of {LOCALE_DIR / (DOMAIN + '.pot')})",
                file="study.yaml"))
        catalog = Catalog(locale=locale, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Language(tag=tag, locale=locale, translations=Translations(buffer, domain=DOMAIN))


def load_language(tag: str = DEFAULT, study_root: Path | None = None) -> Language:
    """The language ``tag`` with the study's own ``locale/<tag>.po`` merged over the shipped one.

    A language without a shipped catalog needs the study's own; a message neither translates
    stays in English.
    """
    study_po = None
    stamp = 0.0
    shown = None
    if study_root is not None:
        path = study_catalog_path(study_root, tag)
        if path.is_file():
            study_po, stamp, shown = str(path), path.stat().st_mtime, f"locale/{tag}.po"
    return _load(tag, study_po, stamp, shown)



def text_direction(text: str, language: Language) -> str:
    """``rtl`` or ``ltr``: the direction of the first strongly directional letter of ``text``.

    As HTML's ``dir="auto"`` decides it (which weasyprint does not implement), so that a
    statement in Arabic or Hebrew in a study in another language still reads right to left;
    text without such a letter takes the language's direction.
    """
    import unicodedata

    for char in text:
        kind = unicodedata.bidirectional(char)
        if kind in ("R", "AL"):
            return "rtl"
        if kind == "L":
            return "ltr"
    return language.direction
