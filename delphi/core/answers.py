"""What each answer of a round is measured against: resolved rating settings and questions.

- An **answer key** names one answer of a panellist: the item id, or ``<item id>/<dimension
  id>`` for a statement rated on several dimensions (item ids never contain ``/``). It is the
  column name of the wide CSV, the ``item`` value of the long CSV and the key of
  :class:`~delphi.core.models.PanelReturn`'s dictionaries.
- :func:`resolve` folds study.yaml, a section and a dimension into one :class:`RatingSpec`
  (scale, anchors, bands, unsure, divergence); a lower layer's key overrides a higher one's.
- :func:`questions` lists a round's :class:`Question` s in questionnaire order: one per item,
  or one per (item, dimension) asked, each with its kind, its :class:`RatingSpec` (ratings and
  rankings) or its options (choices).
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import Field

from delphi.core.models import (
    Anchors,
    AnswerSettings,
    Band,
    DivergenceRule,
    Kind,
    Manifest,
    ManifestSection,
    Option,
    Scale,
    Settings,
    Strict,
    Unsure,
)

KEY_SEPARATOR = "/"


def answer_key(item_id: str, dimension: str | None = None) -> str:
    """``1.1`` or ``1.1/feasibility``."""
    return item_id if dimension is None else f"{item_id}{KEY_SEPARATOR}{dimension}"


def split_key(key: str) -> tuple[str, str | None]:
    """The item id and the dimension id (or ``None``) of an answer key."""
    item, sep, dimension = key.partition(KEY_SEPARATOR)
    return item, (dimension if sep else None)


class RatingSpec(Strict):
    """The settings one rating is given and analysed with, after inheritance."""

    scale: Scale
    anchors: Anchors = Field(default_factory=dict)
    bands: list[Band]
    unsure: Unsure | None = None
    divergence: DivergenceRule = DivergenceRule()

    def values(self) -> range:
        """The scale's values, lowest first."""
        return range(self.scale.min, self.scale.max + 1)

    def unsure_code(self) -> str | None:
        """The code returns write an unsure answer as, if there is one."""
        return self.unsure.code if self.unsure else None


def resolve(settings: Settings, *layers: AnswerSettings | ManifestSection | None) -> RatingSpec:
    """The rating settings of study.yaml overridden by each layer in turn (section, dimension).

    A layer that sets ``scale`` brings its own ``bands`` and ``anchors`` (none if it sets
    none); ``unsure: false`` removes an inherited unsure answer.
    """
    scale, anchors, bands = settings.scale, dict(settings.anchors), list(settings.bands)
    unsure: Unsure | None = settings.unsure
    divergence = settings.divergence
    for layer in layers:
        if layer is None:
            continue
        if layer.scale is not None:
            scale, anchors = layer.scale, {}
        if layer.anchors:
            anchors = dict(layer.anchors)
        if layer.bands is not None:
            bands = list(layer.bands)
        if layer.unsure is not None:
            unsure = layer.unsure or None
        if layer.divergence is not None:
            divergence = layer.divergence
    return RatingSpec(scale=scale, anchors=anchors, bands=bands, unsure=unsure,
                      divergence=divergence)


class Question(Strict):
    """One answer a round asks of each panellist: an item, or one dimension of an item."""

    key: str
    item: str
    dimension: str | None = None
    dimension_label: str | None = None
    section: str
    kind: Kind
    text: str
    rating: RatingSpec | None = Field(None, description="rating and ranking questions")
    options: list[Option] = Field(default_factory=list, description="choice questions")

    def option_ids(self) -> list[str]:
        """The ids of a choice's options, in order."""
        return [o.id for o in self.options]


def section_spec(settings: Settings, section: ManifestSection,
                 dimension: str | None = None) -> RatingSpec:
    """The rating settings of a manifest section (and one of its dimensions)."""
    return resolve(settings, section,
                   section.dimension(dimension) if dimension is not None else None)


def questions(settings: Settings, manifest: Manifest) -> list[Question]:
    """Every question of a round in questionnaire order (dimensions in the section's order)."""
    sections = {s.id: s for s in manifest.sections}
    specs: dict[tuple[str, str | None], RatingSpec] = {}
    out: list[Question] = []
    for item in manifest.items:
        section = sections[item.section]
        if section.dimensions:
            asked = item.dimensions if item.dimensions is not None else [
                d.id for d in section.dimensions]
            targets: list[tuple[str | None, str | None]] = [
                (d.id, d.label) for d in section.dimensions if d.id in asked]
        else:
            targets = [(None, None)]
        for dim_id, dim_label in targets:
            spec = None
            if item.kind in ("rating", "ranking"):
                if (section.id, dim_id) not in specs:
                    specs[section.id, dim_id] = section_spec(settings, section, dim_id)
                spec = specs[section.id, dim_id]
            out.append(Question(
                key=answer_key(item.id, dim_id), item=item.id, dimension=dim_id,
                dimension_label=dim_label, section=section.id, kind=item.kind, text=item.text,
                rating=spec, options=list(section.options or ())))
    return out


def questions_by_key(settings: Settings, manifest: Manifest) -> Mapping[str, Question]:
    """:func:`questions` keyed by answer key."""
    return {q.key: q for q in questions(settings, manifest)}
