"""Models of everything a study folder holds: settings, item bank, roster, manifest, returns.

Pure data and the checks that need nothing but the data: these models know nothing of files.
Every model forbids unknown keys, so a typo in a YAML key fails loudly instead of being ignored.
Checks that span several files (a panellist's group exists in the settings, a section's bands
tile the scale it inherits from study.yaml, say) live in :mod:`delphi.core.checks`.

How panellists answer (the answer model):

- :class:`AnswerSettings` is the layer of ``scale``, ``anchors``, ``bands``, ``unsure`` and
  ``divergence`` that :class:`Settings` (study.yaml, the default), a :class:`Section` and a
  :class:`Dimension` may each set; a lower layer overrides a higher one. ``unsure`` is an
  :class:`Unsure` ("don't know", "unable to score"), ``false`` in a section to turn the study's
  off. :func:`delphi.core.answers.resolve` folds the layers into one
  :class:`~delphi.core.answers.RatingSpec`.
- A section's ``kind`` is ``rating`` (default), ``ranking``, ``choice`` (one of its
  :class:`Option` s) or ``open`` (free text). A rating section may rate each statement on
  several :class:`Dimension` s.
- A round's :class:`Manifest` records each section's own layer, dimensions and options as asked
  (:class:`ManifestSection`), and per item the dimensions asked again (:class:`ManifestItem`);
  :func:`delphi.core.answers.questions` lists every :class:`~delphi.core.answers.Question`
  of a round: one per item, or one per (item, dimension), each with its **answer key**, the
  item id or ``<item id>/<dimension id>`` (the wide CSV's column name).
- A :class:`PanelReturn` holds the answers by answer key: numeric ``ratings``, the keys
  answered ``unsure``, ``choices`` (option ids) and ``texts`` (open answers);
  :meth:`PanelReturn.answer` gives any of them as one :class:`Answer`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

Identifier = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64,
                      pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"),
]
Code = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=32,
                      pattern=r"^[A-Za-z0-9][A-Za-z0-9_\-]*$"),
]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


def _one_line(value: str) -> str:
    bad = next((c for c in value if ord(c) < 32 or ord(c) == 127), None)
    if bad is not None:
        raise ValueError(f"must be one line of text; it holds the control character {bad!r} "
                         f"({value[:40]!r})")
    return value


# Text that goes into mail headers (names, addresses, the sender) and titles: one line.
OneLine = Annotated[Text, AfterValidator(_one_line)]


class Strict(BaseModel):
    """Base: unknown keys are errors; models are immutable once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- settings


MAX_SCALE_POINTS = 101  # 0-100, a visual analogue scale; every point is a form button


class Scale(Strict):
    """The integer rating scale."""

    min: int = 1
    max: int = 9

    @model_validator(mode="after")
    def _ordered(self) -> Scale:
        if self.min >= self.max:
            raise ValueError(f"min ({self.min}) must be below max ({self.max})")
        if self.max - self.min + 1 > MAX_SCALE_POINTS:
            raise ValueError(f"the scale {self.min}-{self.max} has {self.max - self.min + 1} "
                             f"points; a rating scale has at most {MAX_SCALE_POINTS} (0-100)")
        return self


class Band(Strict):
    """A named range of ratings, e.g. ``agree`` = 7-9."""

    name: Identifier
    min: int
    max: int

    @model_validator(mode="after")
    def _ordered(self) -> Band:
        if self.min > self.max:
            raise ValueError(f"band {self.name!r}: min ({self.min}) is above max ({self.max})")
        return self

    def __contains__(self, rating: float) -> bool:
        return self.min <= rating <= self.max

    def count(self, counts: Mapping[int, int]) -> int:
        """How many of the ratings ``{rating: count}`` fall in this band."""
        return sum(c for v, c in counts.items() if self.min <= v <= self.max)


def bands_problem(bands: Sequence[Band], scale: Scale | None) -> str | None:
    """Why ``bands`` do not tile ``scale`` (contiguous, no overlap, no gap), or ``None``."""
    names = [b.name for b in bands]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        return f"band name {dupes[0]!r} is used twice"
    ordered = sorted(bands, key=lambda b: b.min)
    if not ordered:
        return "at least one band is needed"
    if scale is not None and ordered[0].min != scale.min:
        return (f"bands leave a gap: the scale starts at {scale.min}, "
                f"the first band at {ordered[0].min}")
    if scale is not None and ordered[-1].max != scale.max:
        return (f"bands leave a gap: the scale ends at {scale.max}, "
                f"the last band at {ordered[-1].max}")
    for a, b in zip(ordered, ordered[1:], strict=False):
        if b.min <= a.max:
            return (f"bands overlap: {a.name!r} ({a.min}-{a.max}) and "
                    f"{b.name!r} ({b.min}-{b.max})")
        if b.min > a.max + 1:
            return (f"bands leave a gap: nothing covers {a.max + 1}-{b.min - 1} "
                    f"between {a.name!r} and {b.name!r}")
    return None


RuleName = Literal["banded", "comet", "rand-ucla", "iqr"]


class ConsensusRule(Strict):
    """``consensus:``: the rule fixed before the study, its scope and parameters.

    The rules are defined in :mod:`delphi.core.rules`.
    """

    rule: RuleName = "banded"
    scope: Literal["panel", "every-group", "any-group"] = "panel"
    threshold: float = Field(0.75, gt=0.5, le=1.0,
                             description="banded: share of raters in one band; above 0.5, so "
                                         "one band at most")
    strict: bool = Field(False, description="more than the threshold (default: at least)")
    comet_in: float = Field(0.70, gt=0.5, le=1.0)
    comet_against: float = Field(0.15, ge=0.0, lt=0.5)
    comet_out: Literal["mirror", "low-agreement"] = "mirror"
    comet_low: float = Field(0.50, ge=0.0, le=1.0)
    disagreement: Literal["ipras", "table"] = "ipras"
    max_iqr: float = Field(1.0, ge=0.0)


class DivergenceRule(Strict):
    """When stakeholder groups diverge: their medians lie ``threshold`` or more apart."""

    threshold: float = Field(2.0, gt=0)


class Group(Strict):
    """A stakeholder group of the panel; ``short`` labels it in the feedback charts."""

    id: Identifier
    label: Text
    short: Text | None = Field(None, max_length=12)
    prefix: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=8,
                                             pattern=r"^[A-Za-z][A-Za-z0-9]*$")] | None = Field(
        None, description="start of the codes `delphi panel import` makes for the group "
                          "(default: from the group id, expert -> EX, service_user -> SU)")

    @property
    def code_prefix(self) -> str:
        """The start of generated codes: ``prefix``, else the id's initials or first letters.

        It depends on the group alone, so codes made later never change earlier ones.
        """
        if self.prefix:
            return self.prefix.upper()
        words = [w for w in re.split(r"[^A-Za-z0-9]+", self.id) if w]
        if len(words) > 1:
            return "".join(w[0] for w in words[:3]).upper()
        return words[0][:2].upper()

    @property
    def chart_label(self) -> str:
        """The group's name in a chart's narrow label column (the id, capitalised, if unset)."""
        return self.short or self.id.capitalize()


class MailSettings(Strict):
    """SMTP settings for ``delphi send``; credentials come from the environment only."""

    host: OneLine
    port: int = Field(587, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    sender: OneLine
    max_reminders: int = Field(2, ge=0, description="reminders per panellist and round")
    reminder_gap_days: int = Field(3, ge=0, description="days between two reminders")
    rate: float | None = Field(None, gt=0, description="messages per minute at most")


class WebSettings(Strict):
    """``web:``: where ``delphi serve`` is reached by panellists (behind a TLS proxy)."""

    base_url: str = Field(description="e.g. https://delphi.example.org or "
                                      "https://example.org/delphi")

    @field_validator("base_url")
    @classmethod
    def _absolute_url(cls, value: str) -> str:
        value = value.strip()
        if not re.fullmatch(r"https?://[A-Za-z0-9.\-\[\]:]+(/[A-Za-z0-9._~\-/]*)?", value):
            raise ValueError(f"{value!r} is not an http(s) address without query or fragment, "
                             "e.g. https://delphi.example.org")
        return value.rstrip("/")


Anchors = dict[int, Text]


def _check_anchors(anchors: Anchors, scale: Scale) -> None:
    outside = [k for k in anchors if not scale.min <= k <= scale.max]
    if outside:
        raise ValueError(f"anchor {outside[0]} lies outside the scale {scale.min}-{scale.max}")


def _no_bare_number(value: Any, what: str) -> Any:
    """Ids and codes are text: a YAML number is taken as written only when it is an integer."""
    if isinstance(value, bool):
        raise ValueError(f"{what} must be quoted: unquoted yes/no/true/false/on/off are read as "
                         f'true or false; write "{str(value).lower()}" in quotes '
                         '(e.g. id: "yes")')
    if isinstance(value, float):
        raise ValueError(f'{what} must be quoted, or it is read as the number {value}: '
                         f'write "{value}"')
    if isinstance(value, int):
        return str(value)
    return value


class Unsure(Strict):
    """``unsure:``: an answer that is not a rating ("don't know", "unable to score").

    ``in_denominator`` counts it in the denominator of band shares (default: left out, like
    no answer); ``band`` also counts it in that band's share (it needs ``in_denominator``).
    Medians, quartiles and means are always over the numeric ratings only.
    """

    code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32,
                                           pattern=r"^[^/,\s]+$")]
    label: Text
    in_denominator: bool = False
    band: Identifier | None = None

    @field_validator("code", mode="before")
    @classmethod
    def _code_is_text(cls, value: Any) -> Any:
        return _no_bare_number(value, "the unsure code")

    @field_validator("band")
    @classmethod
    def _band_needs_denominator(cls, band: str | None, info: ValidationInfo) -> str | None:
        if band is not None and not info.data.get("in_denominator", True):
            raise ValueError(f"band {band!r} counts the unsure answers in a band's share, "
                             "so they must count in the denominator too: add "
                             "in_denominator: true (or remove band)")
        return band


class Option(Strict):
    """One option of a ``choice`` section."""

    id: Identifier
    label: Text

    @field_validator("id", mode="before")
    @classmethod
    def _id_is_text(cls, value: Any) -> Any:
        return _no_bare_number(value, "option ids")


def _unique_ids(entries: Sequence[Option] | Sequence[Dimension] | None,
                what: str) -> None:
    ids = [e.id for e in entries or ()]
    dupes = [i for n, i in enumerate(ids) if i in ids[:n]]
    if dupes:
        raise ValueError(f"{what} id {dupes[0]!r} is used twice")


class AnswerSettings(Strict):
    """The layer of rating settings a section or a dimension may set (all optional).

    An unset key is inherited: dimension from section, section from study.yaml. Whoever sets
    ``scale`` sets ``bands`` too (bands that tiled the old scale cannot tile the new one);
    ``anchors`` are inherited only together with the scale. ``unsure: false`` turns off an
    inherited unsure answer.
    """

    scale: Scale | None = None
    anchors: Anchors | None = None
    bands: list[Band] | None = None
    unsure: Unsure | Literal[False] | None = None
    divergence: DivergenceRule | None = None

    @field_validator("bands")
    @classmethod
    def _bands_tile_own_scale(cls, bands: list[Band] | None,
                              info: ValidationInfo) -> list[Band] | None:
        if bands is not None:
            problem = bands_problem(bands, info.data.get("scale"))
            if problem:
                raise ValueError(problem)
        return bands

    @model_validator(mode="after")
    def _scale_with_bands(self) -> AnswerSettings:
        if self.scale is not None and self.bands is None:
            raise ValueError(f"sets scale ({self.scale.min}-{self.scale.max}), so it must set "
                             "bands for that scale too")
        return self


ANSWER_KEYS = ("scale", "anchors", "bands", "unsure", "divergence")


class Dimension(AnswerSettings):
    """``dimensions:``: one of the ratings each statement of a section gets (importance...)."""

    id: Identifier
    label: Text


class FeedbackSettings(Strict):
    """What the questionnaires show besides the per-item feedback."""

    earlier_results_from: int = Field(
        3, ge=2, description="from this round on, list items that reached consensus earlier "
                             "and the ranking results")


StabilityName = Literal["net-change", "kappa", "lambda", "chi-square-individual",
                        "chi-square-group"]

_STABILITY_DEFAULTS: dict[str, float] = {
    "net-change": 0.15, "kappa": 0.6, "lambda": 0.6, "chi-square-individual": 0.05,
    "chi-square-group": 0.05}
_STABILITY_KEY = {"net-change": "limit", "kappa": "threshold", "lambda": "threshold",
                  "chi-square-individual": "alpha", "chi-square-group": "alpha"}


class StabilitySettings(Strict):
    """``stability:``: the statistic that decides when an item is stable, and its cut-off.

    ``required`` makes the stop rule need stability as well as consensus. The statistics are
    defined in :mod:`delphi.core.stability`. ``stability: kappa`` is short for
    ``stability: {statistic: kappa}``.
    """

    statistic: StabilityName = Field("net-change", description="the statistic reported and "
                                     "decided with")
    limit: float | None = Field(None, gt=0, le=1, description="net-change: stable below this "
                                "share (default 0.15)")
    weights: Literal["linear", "quadratic"] | None = Field(
        None, description="kappa: disagreement weights (default quadratic)")
    threshold: float | None = Field(None, gt=-1, le=1, description="kappa, lambda: stable at "
                                    "or above this (default 0.6)")
    alpha: float | None = Field(None, gt=0, lt=1, description="chi-square tests: significance "
                                "level (default 0.05)")
    required: bool = Field(False, description="stop rule: an item drops out only once it has "
                                              "reached consensus and is stable")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return {"statistic": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _keys_of_the_statistic(self) -> StabilitySettings:
        own = _STABILITY_KEY[self.statistic]
        for key in ("limit", "threshold", "alpha"):
            if key != own and getattr(self, key) is not None:
                raise ValueError(f"{key} does not apply to statistic {self.statistic}; its "
                                 f"cut-off is {own}")
        if self.weights is not None and self.statistic != "kappa":
            raise ValueError(f"weights apply to kappa only, not to {self.statistic}")
        if self.statistic == "lambda" and self.threshold is not None and self.threshold < 0:
            raise ValueError(f"threshold {self.threshold:g}: lambda lies between 0 and 1")
        return self

    @property
    def cutoff(self) -> float:
        """The limit, threshold or alpha in force (the study's or the default)."""
        value: float | None = getattr(self, self.cutoff_key)
        return _STABILITY_DEFAULTS[self.statistic] if value is None else value

    @property
    def cutoff_key(self) -> str:
        """The name of the statistic's cut-off: limit, threshold or alpha."""
        return _STABILITY_KEY[self.statistic]

    def in_force(self) -> dict[str, Any]:
        """The settings with their defaults filled in, e.g. for the JSON's readers."""
        out: dict[str, Any] = {"statistic": self.statistic}
        if self.statistic == "kappa":
            out["weights"] = self.kappa_weights
        out[self.cutoff_key] = self.cutoff
        out["required"] = self.required
        return out

    @property
    def kappa_weights(self) -> Literal["linear", "quadratic"]:
        """The kappa weights in force."""
        return self.weights or "quadratic"


class Settings(Strict):
    """``study.yaml``."""

    title: OneLine
    scale: Scale = Scale()
    anchors: Anchors = Field(default_factory=dict)
    bands: list[Band]
    unsure: Unsure | None = None
    consensus: ConsensusRule = ConsensusRule()
    divergence: DivergenceRule = DivergenceRule()
    quartiles: Literal["linear", "spss"] = "linear"
    groups: list[Group] = Field(min_length=1)
    item_bank: str | list[str] = "questionnaires/items.yaml"
    roster: str | list[str] = "panels/panel.yaml"
    mail: MailSettings | None = None
    web: WebSettings | None = None
    feedback: FeedbackSettings = FeedbackSettings()
    stability: StabilitySettings = StabilitySettings()
    language: str = Field("en", description="BCP 47 tag of what panellists and readers get")

    @field_validator("language")
    @classmethod
    def _known_language(cls, tag: str) -> str:
        from babel import Locale, UnknownLocaleError

        try:
            Locale.parse(tag.replace("_", "-"), sep="-")
        except (UnknownLocaleError, ValueError) as exc:
            raise ValueError(f"{tag!r} is not a language tag Babel knows (BCP 47, such as en, "
                             f"fr, de, es, pt-BR): {exc}") from None
        return tag

    @field_validator("anchors")
    @classmethod
    def _anchors_on_scale(cls, anchors: Anchors, info: ValidationInfo) -> Anchors:
        scale = info.data.get("scale")
        if scale is not None:
            _check_anchors(anchors, scale)
        return anchors

    @field_validator("bands")
    @classmethod
    def _bands_tile_the_scale(cls, bands: list[Band], info: ValidationInfo) -> list[Band]:
        problem = bands_problem(bands, info.data.get("scale"))
        if problem:
            raise ValueError(problem)
        return bands

    @field_validator("groups")
    @classmethod
    def _group_ids_unique(cls, groups: list[Group]) -> list[Group]:
        ids = [g.id for g in groups]
        dupes = sorted({g for g in ids if ids.count(g) > 1})
        if dupes:
            raise ValueError(f"group id {dupes[0]!r} is used twice")
        return groups

    @property
    def item_bank_files(self) -> list[str]:
        """The item bank file(s), relative to the study folder."""
        return [self.item_bank] if isinstance(self.item_bank, str) else list(self.item_bank)

    @property
    def roster_files(self) -> list[str]:
        """The roster file(s), relative to the study folder."""
        return [self.roster] if isinstance(self.roster, str) else list(self.roster)

    @property
    def group_ids(self) -> list[str]:
        """Group ids in display order."""
        return [g.id for g in self.groups]

    def band_of(self, rating: int) -> str:
        """The name of the band a rating falls in."""
        for band in self.bands:
            if rating in band:
                return band.name
        raise ValueError(f"rating {rating} is outside every band")


# --------------------------------------------------------------------------- item bank


class Revision(Strict):
    """A rewording of an item from a given round on (same id)."""

    round: int = Field(ge=2)
    text: Text


ItemId = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=32,
                      pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"),
]


class Item(Strict):
    """One statement (rating section) or option (ranking section)."""

    id: ItemId
    text: Text
    introduced: int = Field(1, ge=1)
    revisions: list[Revision] = Field(default_factory=list)

    @field_validator("id", mode="before")
    @classmethod
    def _id_is_text(cls, value: Any) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            raise ValueError(f"item ids must be quoted, or they are read as numbers ({value}): "
                             f'write id: "{value}"')
        return value

    @model_validator(mode="after")
    def _revisions_ordered(self) -> Item:
        rounds = [r.round for r in self.revisions]
        if rounds != sorted(set(rounds)):
            raise ValueError("revisions must name each round once, in increasing order")
        if rounds and rounds[0] <= self.introduced:
            raise ValueError(f"a revision for round {rounds[0]} comes before or with the item's "
                             f"introduction in round {self.introduced}")
        return self

    def text_in(self, round_no: int) -> str:
        """The wording asked in ``round_no``: the latest revision in force, else the original."""
        text = self.text
        for rev in self.revisions:
            if rev.round <= round_no:
                text = rev.text
        return text


Kind = Literal["rating", "ranking", "choice", "open"]


class Section(AnswerSettings):
    """A block of items with one kind and, optionally, its own rating settings.

    ``kind``: ``rating`` (default; asked until consensus), ``ranking`` (options rated and
    ranked; round 1 only unless ``rounds``), ``choice`` (one of ``options``; asked until
    consensus, or in ``rounds``), ``open`` (free text; round 1 only unless ``rounds``).
    ``dimensions`` (rating sections): each statement is rated once per dimension.
    """

    id: Identifier
    title: Text
    kind: Kind = "rating"
    intro: str | None = None
    rounds: list[int] | None = Field(None, description="rounds a ranking, choice or open "
                                                       "section is asked in")
    dimensions: list[Dimension] | None = None
    options: list[Option] | None = None
    items: list[Item] = Field(min_length=1)

    @field_validator("dimensions")
    @classmethod
    def _dimensions_unique(cls, dims: list[Dimension] | None) -> list[Dimension] | None:
        if dims is not None and not dims:
            raise ValueError("dimensions is empty: list at least one, or leave the key out")
        _unique_ids(dims, "dimension")
        return dims

    @field_validator("options")
    @classmethod
    def _options_unique(cls, options: list[Option] | None) -> list[Option] | None:
        _unique_ids(options, "option")
        if options is not None and len(options) < 2:
            raise ValueError("a choice needs at least two options")
        return options

    @model_validator(mode="after")
    def _keys_fit_the_kind(self) -> Section:
        if self.kind == "choice" and not self.options:
            raise ValueError("a choice section needs options: a list of {id, label}")
        if self.kind != "choice" and self.options is not None:
            raise ValueError(f"options: apply to choice sections only (this one is "
                             f"{self.kind})")
        if self.kind != "rating" and self.dimensions is not None:
            raise ValueError(f"dimensions: apply to rating sections only (this one is "
                             f"{self.kind})")
        if self.kind in ("choice", "open"):
            own = [k for k in ANSWER_KEYS if getattr(self, k) is not None]
            if own:
                raise ValueError(f"{own[0]}: applies to rating and ranking sections only "
                                 f"(this one is {self.kind})")
        return self

    def asked_in(self, round_no: int) -> bool:
        """Whether this section is asked in ``round_no`` at all."""
        if self.rounds is not None:
            return round_no in self.rounds
        return self.kind in ("rating", "choice") or round_no == 1


class ItemBank(Strict):
    """``questionnaires/*.yaml``: every statement the study may ask, in sections.

    A new study's bank may be empty (``sections: []``); a round needs at least one item.
    """

    sections: list[Section] = Field(default_factory=list)

    def items(self) -> list[tuple[Section, Item]]:
        """Every item with its section, in questionnaire order."""
        return [(s, i) for s in self.sections for i in s.items]


# --------------------------------------------------------------------------- roster


Attribute = str | list[str]


class Withdrawal(Strict):
    """``withdrawn:`` in a roster entry, as ``delphi panel withdraw`` writes it.

    The panellist is not invited to any round after ``round`` (the round in progress when
    they withdrew; none if they withdrew before round 1) and is never mailed or reminded
    again. Returns they gave before stay in the study and are analysed.
    """

    date: date
    round: int | None = Field(None, ge=1, description="the round in progress; the last one "
                                                      "they were invited to")
    reason: str | None = None


class Panellist(Strict):
    """A member of the panel. Only ``code`` ever appears on what other panellists receive."""

    code: Code
    name: OneLine
    email: str | None = None
    group: Identifier
    attributes: dict[Identifier, Attribute] = Field(default_factory=dict)
    delivery: Literal["email", "web", "post"] = "email"  # web: a private link by e-mail
    address: str | None = None
    withdrawn: Withdrawal | None = None

    @field_validator("email")
    @classmethod
    def _email_shape(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value.strip()):
            raise ValueError(f"{value!r} is not an e-mail address")
        return value.strip() if value else value

    @model_validator(mode="after")
    def _reachable(self) -> Panellist:
        if self.delivery == "post" and not (self.address and self.address.strip()):
            raise ValueError(f"{self.code}: delivery is post but there is no address")
        if self.delivery in ("email", "web") and not self.email:
            raise ValueError(f"{self.code}: delivery is {self.delivery} but there is no email")
        return self

    def attribute_values(self, name: str) -> list[str]:
        """An attribute as a list (multi-valued attributes count in each value)."""
        value = self.attributes.get(name)
        if value is None:
            return []
        return [value] if isinstance(value, str) else list(value)

    @property
    def is_withdrawn(self) -> bool:
        """Whether the panellist has withdrawn: never mailed, reminded or let in again."""
        return self.withdrawn is not None

    def invited_to(self, round_no: int) -> bool:
        """Whether a round built now invites the panellist (not after their withdrawal)."""
        w = self.withdrawn
        return w is None or (w.round is not None and round_no <= w.round)

    def withdrawn_by(self, round_no: int) -> bool:
        """Whether the panellist had withdrawn by ``round_no`` (in it or before)."""
        w = self.withdrawn
        return w is not None and (w.round is None or w.round <= round_no)


class Roster(Strict):
    """``panels/*.yaml``: who is on the panel.

    A new study's roster may be empty (``panellists: []``); a round needs someone to invite.
    """

    panellists: list[Panellist] = Field(default_factory=list)

    def by_code(self) -> dict[str, Panellist]:
        """Panellists keyed by code."""
        return {p.code: p for p in self.panellists}


# --------------------------------------------------------------------------- manifest


def content_hash(payload: Any) -> str:
    """SHA-256 (hex) of a JSON-serialisable value in canonical form."""
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class ManifestSection(Strict):
    """A section as asked in one round.

    ``anchors`` are the section's anchors as printed. The rest records the section's own
    layer of rating settings (``None``: inherited from study.yaml), its dimensions and its
    options, so that a round is read and analysed against what it asked. The keys added with
    the answer model enter the manifest's hash only when set, so older manifests keep theirs.
    """

    id: Identifier
    title: Text
    kind: Kind = "rating"
    intro: str | None = None
    anchors: Anchors = Field(default_factory=dict)
    scale: Scale | None = None
    bands: list[Band] | None = None
    unsure: Unsure | Literal[False] | None = None
    divergence: DivergenceRule | None = None
    dimensions: list[Dimension] | None = None
    options: list[Option] | None = None

    def hash_payload(self) -> dict[str, Any]:
        """The section in the form its manifest's hash covers."""
        return _without_unset(self.model_dump(mode="json"), _ANSWER_MODEL_KEYS)

    def dimension(self, dimension_id: str) -> Dimension:
        """One of the section's dimensions, by id."""
        return next(d for d in self.dimensions or () if d.id == dimension_id)


_ANSWER_MODEL_KEYS = ("scale", "bands", "unsure", "divergence", "dimensions", "options")


def _without_unset(data: dict[str, Any], keys: Sequence[str]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if not (k in keys and v is None)}


class ManifestItem(Strict):
    """An item exactly as asked in one round.

    ``dimensions``: for an item of a section with dimensions, the ones asked in this round
    (those not yet at consensus); ``None`` asks all of the section's dimensions.
    """

    id: ItemId
    section: Identifier
    kind: Kind = "rating"
    text: Text
    dimensions: list[Identifier] | None = None
    hash: str

    @staticmethod
    def hash_of(item_id: str, section: str, kind: str, text: str,
                dimensions: Sequence[str] | None = None) -> str:
        """Content hash of one item's identity, wording and the dimensions asked."""
        payload: dict[str, Any] = {"id": item_id, "section": section, "kind": kind,
                                   "text": text}
        if dimensions is not None:
            payload["dimensions"] = list(dimensions)
        return content_hash(payload)

    @model_validator(mode="after")
    def _hash_matches(self) -> ManifestItem:
        expected = self.hash_of(self.id, self.section, self.kind, self.text, self.dimensions)
        if self.hash != expected:
            raise ValueError(f"item {self.id}: hash does not match its text; the manifest of a "
                             "past round must not be edited")
        return self

    def hash_payload(self) -> dict[str, Any]:
        """The item in the form its manifest's hash covers."""
        return _without_unset(self.model_dump(mode="json"), ("dimensions",))


class Manifest(Strict):
    """``rounds/round-N/questionnaire.yaml``: what was asked in a round, and of whom."""

    study: Text
    round: int = Field(ge=1)
    sections: list[ManifestSection]
    items: list[ManifestItem]
    invited: list[Code]
    hash: str

    @staticmethod
    def hash_of(study: str, round_no: int, sections: list[ManifestSection],
                items: list[ManifestItem], invited: list[str]) -> str:
        """Hash of a whole manifest (study title, round, sections, items and invited codes)."""
        return content_hash({
            "study": study,
            "round": round_no,
            "sections": [s.hash_payload() for s in sections],
            "items": [i.hash_payload() for i in items],
            "invited": invited,
        })

    @model_validator(mode="after")
    def _hash_matches(self) -> Manifest:
        if self.hash != self.hash_of(self.study, self.round, self.sections, self.items,
                                     self.invited):
            raise ValueError("hash does not match the manifest's content; the manifest of a "
                             "past round must not be edited")
        return self

    def item_ids(self) -> list[str]:
        """Ids of the items asked, in order."""
        return [i.id for i in self.items]

    def rating_items(self) -> list[ManifestItem]:
        """Items of rating sections."""
        return [i for i in self.items if i.kind == "rating"]

    @model_validator(mode="after")
    def _items_in_sections(self) -> Manifest:
        sections = {s.id: s for s in self.sections}
        for item in self.items:
            section = sections.get(item.section)
            if section is None:
                raise ValueError(f"item {item.id}: section {item.section!r} is not in the "
                                 "manifest's sections")
            known = [d.id for d in section.dimensions or ()]
            unknown = [d for d in item.dimensions or () if d not in known]
            if unknown:
                raise ValueError(f"item {item.id}: dimension {unknown[0]!r} is not one of "
                                 f"section {section.id}'s")
        return self


# --------------------------------------------------------------------------- returns


class Source(Strict):
    """Where a return was read from: a file (as the user should see it) and its line, if any.

    Printed as ``file:line`` (or ``file``); never parsed back from that text.
    """

    file: str
    line: int | None = None

    def __str__(self) -> str:
        return self.file if self.line is None else f"{self.file}:{self.line}"
class Answer(Strict):
    """One answer as a value of one kind (see :meth:`PanelReturn.answer`).

    ``rating``: ``value`` is the integer; ``unsure``: ``value`` is ``None``; ``choice``: the
    option id; ``open``: the text.
    """

    kind: Literal["rating", "unsure", "choice", "open"]
    value: int | str | None = None


class PanelReturn(Strict):
    """One panellist's answers to one round. ``None`` (or absence) means no answer.

    Every answer is filed under its answer key (the item id, or ``<item id>/<dimension id>``):
    a numeric rating in ``ratings``, an "unsure" answer in ``unsure``, an option id in
    ``choices``, free text in ``texts``. A key is in one of them at most.
    """

    code: Code
    ratings: dict[str, int | None] = Field(default_factory=dict)
    unsure: list[str] = Field(default_factory=list)
    choices: dict[str, str] = Field(default_factory=dict)
    texts: dict[str, str] = Field(default_factory=dict)
    comments: dict[str, str] = Field(default_factory=dict)
    suggestions: str | None = None
    source: Source | None = Field(None, description="file (and line) the return was read from")

    @classmethod
    def checked(cls, code: str, ratings: dict[str, int | None], unsure: list[str],
                choices: dict[str, str], texts: dict[str, str], comments: dict[str, str],
                suggestions: str | None, source: Source | None) -> PanelReturn:
        """A return from values its reader has checked one by one, not validated again.

        For readers that check every value themselves (:class:`~delphi.store.returns_csv.
        ReturnsReader`: an invited code, asked keys, whole ratings on the scale) and would
        otherwise pay pydantic's copy of thousands of ratings a return. The check across
        fields (one answer per key) still runs.
        """
        made = cls.model_construct(code=code, ratings=ratings, unsure=unsure, choices=choices,
                                   texts=texts, comments=comments, suggestions=suggestions,
                                   source=source)
        return made._answered_once()

    @model_validator(mode="after")
    def _one_answer_per_key(self) -> PanelReturn:
        return self._answered_once()

    def _answered_once(self) -> PanelReturn:
        """The return, if no answer key is in two of ratings, unsure, choices and texts."""
        if self.unsure or self.choices or self.texts:
            seen = [k for k, v in self.ratings.items() if v is not None]
            for keys in (self.unsure, self.choices, self.texts):
                twice = set(seen) & set(keys)
                if twice:
                    raise ValueError(f"{self.code}: {sorted(twice)[0]} has two answers")
                seen += list(keys)
        return self

    def rating(self, item_id: str) -> int | None:
        """The rating given to an item (or answer key), or ``None``."""
        return self.ratings.get(item_id)

    def answer(self, key: str) -> Answer | None:
        """Whatever was answered under ``key``, or ``None`` for no answer."""
        rating = self.ratings.get(key)
        if rating is not None:
            return Answer(kind="rating", value=rating)
        if key in self.unsure:
            return Answer(kind="unsure")
        if key in self.choices:
            return Answer(kind="choice", value=self.choices[key])
        if key in self.texts:
            return Answer(kind="open", value=self.texts[key])
        return None

    def answers(self) -> dict[str, Answer]:
        """Every answer given, by answer key."""
        keys = [*(k for k, v in self.ratings.items() if v is not None), *self.unsure,
                *self.choices, *self.texts]
        return {k: a for k in keys if (a := self.answer(k)) is not None}
