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
from delphi.render.charts import band_chart


class _Context(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)


class ItemView(_Context):
    """One statement as printed: text, form field names, feedback box and chart."""

    id: str
    text: str
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
    kind: str
    anchors: dict[int, str]
    items: list[ItemView]


class QuestionnaireContext(_Context):
    """Everything on the questionnaire that is the same for every panellist of a round."""

    title: str
    round: int
    language: str
    study_hash: str
    code_length: int
    scale_min: int
    scale_max: int
    scale_values: list[int]
    band_legend: str
    has_feedback: bool
    dropped_count: int
    sections: list[SectionView]
    earlier_consensus: list[EarlierConsensus]
    rankings: list[RankingFeedback]


NO_RATING = "no rating"


class Personal(_Context):
    """What differs between panellists: the code and their own previous ratings.

    Everything the template prints from this model goes through a *slot* (see
    ``delphi/render/personalise.py``): the code via ``code``, the previous ratings via ``own``.
    ``glyphs`` is empty on every panellist's questionnaire; the shared layout uses it.
    """

    code: str
    ratings: dict[str, int]
    glyphs: str = ""

    def own(self, item_id: str) -> str:
        """The panellist's previous rating of an item as printed."""
        rating = self.ratings.get(item_id)
        return NO_RATING if rating is None else str(rating)


def build_context(settings: Settings, manifest: Manifest, feedback: dict[str, ItemFeedback],
                  new_items: Sequence[str] = (), dropped_count: int = 0,
                  earlier: Sequence[EarlierConsensus] = (),
                  rankings: Sequence[RankingFeedback] = ()) -> QuestionnaireContext:
    """The shared context of a round's questionnaire."""
    sections = []
    for section in manifest.sections:
        items = []
        for item in (i for i in manifest.items if i.section == section.id):
            fb = feedback.get(item.id)
            chart = band_chart(fb.chart, f"Ratings of {item.id} in round {fb.from_round} by band"
                               ) if fb else Markup("")
            items.append(ItemView(id=item.id, text=item.text, new=item.id in new_items,
                                  field=encode_id(item.id), rating_field=rating_field(item.id),
                                  comment_field=comment_field(item.id), feedback=fb,
                                  chart_svg=chart))
        sections.append(SectionView(id=section.id, title=section.title, intro=section.intro,
                                    kind=section.kind, anchors=dict(section.anchors),
                                    items=items))
    bands = settings.bands
    legend = ", ".join(f"{b.min}-{b.max}" for b in bands[:-1]) + f" and {bands[-1].min}-" \
        f"{bands[-1].max}" if len(bands) > 1 else f"{bands[0].min}-{bands[0].max}"
    return QuestionnaireContext(
        title=settings.title, round=manifest.round, language="en", study_hash=manifest.hash,
        code_length=max((len(code) for code in manifest.invited), default=4),
        scale_min=settings.scale.min, scale_max=settings.scale.max,
        scale_values=list(range(settings.scale.min, settings.scale.max + 1)),
        band_legend=legend, has_feedback=bool(feedback), dropped_count=dropped_count,
        sections=sections, earlier_consensus=list(earlier), rankings=list(rankings))
