"""The documented context of ``questionnaire.html.j2``.

One model is shared by every panellist (:class:`QuestionnaireContext`) and one small model is
per panellist (:class:`Personal`). The shared part is built once per round; only ``Personal``
differs between two panellists' questionnaires. A test checks that the template uses no key
these models do not define.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup
from pydantic import BaseModel, ConfigDict

from delphi.core.feedback import EarlierConsensus, ItemFeedback, RankingFeedback
from delphi.core.fields import comment_field, encode_id, rating_field
from delphi.core.models import Manifest, Settings
from delphi.i18n import Language, text_direction
from delphi.render.charts import band_chart, chart_labels


class _Context(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)


class ItemView(_Context):
    """One statement as printed: text, form field names, feedback box and chart."""

    id: str
    text: str
    dir: str
    new: bool
    field: str
    rating_field: str
    comment_field: str
    feedback: ItemFeedback | None
    chart_svg: Markup


class SectionView(_Context):
    """A section: title, introduction, the scale's anchors and its items."""

    id: str
    title: str
    intro: str | None
    dir: str
    kind: str
    anchors: dict[int, str]
    items: list[ItemView]


class QuestionnaireContext(_Context):
    """Everything on the questionnaire that is the same for every panellist of a round."""

    title: str
    round: int
    language: str
    dir: str
    study_hash: str
    code_length: int
    own_length: int
    scale_min: int
    scale_max: int
    scale_values: list[int]
    band_legend: str
    has_feedback: bool
    dropped_count: int
    sections: list[SectionView]
    earlier_consensus: list[EarlierConsensus]
    rankings: list[RankingFeedback]


NO_RATING = "no rating"  # the English of Personal.no_rating


class Personal(_Context):
    """What differs between panellists: the code and their own previous ratings.

    Everything the template prints from this model goes through a *slot* (see
    ``delphi/render/personalise.py``): the code via ``code``, the previous ratings via ``own``.
    ``glyphs`` is empty on every panellist's questionnaire; the shared layout uses it.
    ``no_rating`` is what ``own`` says for an item the panellist did not rate, in the panel's
    language (:func:`personals` fills it).
    """

    code: str
    ratings: dict[str, int]
    glyphs: str = ""
    no_rating: str = NO_RATING

    def own(self, item_id: str) -> str:
        """The panellist's previous rating of an item as printed."""
        rating = self.ratings.get(item_id)
        return self.no_rating if rating is None else str(rating)


def personals_for(codes: Sequence[str], own: dict[str, dict[str, int]],
              language: Language) -> list[Personal]:
    """Each invited panellist's part of the questionnaire, in the panel's language."""
    # Translators: printed after "Your rating in round N:" when the panellist gave none; short.
    no_rating = language._("no rating")
    return [Personal(code=c, ratings=own.get(c, {}), no_rating=no_rating) for c in codes]


def build_context(settings: Settings, manifest: Manifest, feedback: dict[str, ItemFeedback],
                  language: Language, new_items: Sequence[str] = (), dropped_count: int = 0,
                  earlier: Sequence[EarlierConsensus] = (),
                  rankings: Sequence[RankingFeedback] = ()) -> QuestionnaireContext:
    """The shared context of a round's questionnaire, in the panel's ``language``."""
    labels = chart_labels({g.id: g.chart_label for g in settings.groups}, language)
    sections = []
    for section in manifest.sections:
        items = []
        for item in (i for i in manifest.items if i.section == section.id):
            fb = feedback.get(item.id)
            chart = band_chart(fb.chart, language._(
                "Ratings of %(item)s in round %(round)s by band", item=item.id,
                round=fb.from_round), labels, language) if fb else Markup("")
            items.append(ItemView(id=item.id, text=item.text,
                                  dir=text_direction(item.text, language),
                                  new=item.id in new_items,
                                  field=encode_id(item.id), rating_field=rating_field(item.id),
                                  comment_field=comment_field(item.id), feedback=fb,
                                  chart_svg=chart))
        sections.append(SectionView(id=section.id, title=section.title, intro=section.intro,
                                    dir=text_direction(section.title, language),
                                    kind=section.kind, anchors=dict(section.anchors),
                                    items=items))
    legend = language.join([f"{b.min}-{b.max}" for b in settings.bands])
    no_rating = language._("no rating")
    return QuestionnaireContext(
        title=settings.title, round=manifest.round, language=language.tag,
        dir=language.direction, study_hash=manifest.hash,
        code_length=max((len(code) for code in manifest.invited), default=4),
        own_length=max(len(no_rating), len(str(settings.scale.max)),
                       len(str(settings.scale.min))),
        scale_min=settings.scale.min, scale_max=settings.scale.max,
        scale_values=list(range(settings.scale.min, settings.scale.max + 1)),
        band_legend=legend,
        has_feedback=bool(feedback), dropped_count=dropped_count,
        sections=sections, earlier_consensus=list(earlier), rankings=list(rankings))
