"""The documented context of ``questionnaire.html.j2``.

One model is shared by every panellist (:class:`QuestionnaireContext`) and one small model is
per panellist (:class:`Personal`). The shared part is built once per round; only ``Personal``
differs between two panellists' questionnaires. A test checks that the template uses no key
these models do not define.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from markupsafe import Markup
from pydantic import BaseModel, ConfigDict

from delphi.core.answers import Question, RatingSpec, questions
from delphi.core.feedback import BandShare, EarlierConsensus, ItemFeedback, RankingFeedback
from delphi.core.fields import (
    answer_field,
    comment_field,
    encode_id,
    own_text_field,
    rating_field,
)
from delphi.core.models import Answer, Manifest, ManifestItem, PanelReturn, Settings
from delphi.i18n import Language, text_direction
from delphi.render.charts import band_chart, chart_labels

__all__ = ["AnswerRow", "BandShare", "ItemFeedback", "ItemView", "OptionView", "Personal",
           "QuestionnaireContext", "SectionView", "build_context"]


class _Context(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)


class OptionView(_Context):
    """One answer a panellist can tick: a scale value, the unsure answer, or a choice's option."""

    value: str
    label: str
    title: str
    unsure: bool = False


class AnswerRow(_Context):
    """One radio group of an item: its rating (one row per dimension) or its choice.

    ``key`` is the answer's column in returns (``1.1`` or ``1.1/feasibility``) and the key of
    the panellist's own earlier answer (``me.own(row.key)``), printed in a slot
    ``own_width`` em wide (room for the longest answer it can show).
    """

    key: str
    label: str | None
    field: str
    options: list[OptionView]
    unsure_label: str | None
    own_width: float
    width: int
    feedback: ItemFeedback | None
    chart_svg: Markup


class ItemView(_Context):
    """One statement as printed: text, answer rows (or an open text box), feedback, comment."""

    id: str
    text: str
    dir: str
    new: bool
    kind: str
    field: str
    rows: list[AnswerRow]
    answer_width: int
    comment_field: str
    text_field: str | None
    own_text_field: str | None

    def answer_keys(self) -> list[str]:
        """The keys of the item's answers: one per row, or the item id of an open question."""
        return [row.key for row in self.rows] or [self.id]


class SectionView(_Context):
    """A section: title, introduction, kind and its items."""

    id: str
    title: str
    intro: str | None
    dir: str
    kind: str
    items: list[ItemView]


class QuestionnaireContext(_Context):
    """Everything on the questionnaire that is the same for every panellist of a round."""

    title: str
    round: int
    language: str
    dir: str
    study_hash: str
    code_length: int
    one_scale: bool
    scale_min: int
    scale_max: int
    unsure_label: str | None
    has_dimensions: bool
    has_choices: bool
    has_open: bool
    band_legend: str
    has_feedback: bool
    dropped_count: int
    sections: list[SectionView]
    earlier_consensus: list[EarlierConsensus]
    rankings: list[RankingFeedback]

    def rated_items(self) -> list[str]:
        """Keys of the answers whose feedback shows the panellist's own answer, in order."""
        return [row.key for section in self.sections for item in section.items
                for row in item.rows if row.feedback]

    def text_items(self) -> list[str]:
        """Ids of the open questions that show the panellist's own earlier answer, in order.

        In a PDF their values are read-only form fields, never page text: a text of any
        length cannot keep the layout of a fixed-width slot (:mod:`delphi.render.personalise`).
        """
        return [item.id for section in self.sections for item in section.items
                if item.own_text_field]


NO_RATING = "no rating"  # the English of Personal.no_rating
EM_PER_CHAR = 0.6  # the average advance of the own-answer slot's bold font ("no rating": 5.4em)


class Personal(_Context):
    """What differs between panellists: the code and their own previous answers.

    Everything the template prints from this model goes through a *slot* (see
    ``delphi/render/personalise.py``): the code via ``code``, the previous answers via ``own``
    (keyed by answer key, printed as the panellist saw them: a rating, the unsure label, an
    option's label). ``texts`` are the panellist's own answers to open questions asked again,
    by item id; they are shown in read-only form fields, never laid out as page text.
    ``glyphs`` is empty on every panellist's questionnaire; the shared layout uses it.
    ``no_rating`` is what ``own`` says for an answer not given, in the panel's language.
    """

    code: str
    answers: dict[str, str]
    texts: dict[str, str] = {}
    glyphs: str = ""
    no_rating: str = NO_RATING

    def own(self, key: str) -> str:
        """The panellist's previous answer as printed."""
        return self.answers.get(key, self.no_rating)


def _options(question: Question, about: str) -> list[OptionView]:
    """The buttons of a question: its options, or its scale's values and then "unsure"."""
    if question.rating is None:
        return [OptionView(value=o.id, label=o.label, title=f"{about}: {o.label}")
                for o in question.options]
    spec = question.rating
    options = [OptionView(value=str(v), label=spec.anchors.get(v, ""),
                          title=f"{about}: {v}" + (f" ({spec.anchors[v]})" if v in spec.anchors
                                                   else ""))
               for v in spec.values()]
    if spec.unsure is not None:
        options.append(OptionView(value=spec.unsure.code, label=spec.unsure.label,
                                  title=f"{about}: {spec.unsure.label}", unsure=True))
    return options


def _row(question: Question, feedback: ItemFeedback | None, language: Language,
         labels: Mapping[str | None, str]) -> AnswerRow:
    """One radio group as printed, with its feedback box and chart."""
    label = question.dimension_label
    about = f"{question.item}, {label}" if label else question.item
    options = _options(question, about)
    printed = [language._("no rating")] + [o.label if question.kind == "choice" or o.unsure
                                           else o.value for o in options]
    chart = Markup("")
    if feedback is not None:
        title = language._("Choices of %(item)s in round %(round)s", item=about,
                           round=feedback.from_round) if question.kind == "choice" else \
            language._("Ratings of %(item)s in round %(round)s by band", item=about,
                       round=feedback.from_round)
        chart = band_chart(feedback.chart, title, labels, language)
    unsure = question.rating.unsure if question.rating else None
    return AnswerRow(key=question.key, label=label, field=rating_field(question.key),
                     options=options, unsure_label=unsure.label if unsure else None,
                     own_width=round(EM_PER_CHAR * max(len(text) for text in printed), 1),
                     width=sum(18 if o.unsure else 10 for o in options), feedback=feedback,
                     chart_svg=chart)


def _answer_width(kind: str, rows: Sequence[AnswerRow]) -> int:
    """Millimetres of the answer column: 10 per scale value, 18 for "unsure"."""
    if kind == "choice" or not rows:
        return 90
    return max(row.width for row in rows)


def _item_view(item: ManifestItem, asked: Sequence[Question],
               feedback: Mapping[str, ItemFeedback], new: bool, own_texts: bool,
               language: Language, labels: Mapping[str | None, str]) -> ItemView:
    rows = [] if item.kind == "open" else [_row(q, feedback.get(q.key), language, labels)
                                           for q in asked]
    return ItemView(id=item.id, text=item.text, dir=text_direction(item.text, language),
                    new=new, kind=item.kind,
                    field=encode_id(item.id), rows=rows,
                    answer_width=_answer_width(item.kind, rows),
                    comment_field=comment_field(item.id),
                    text_field=answer_field(item.id) if item.kind == "open" else None,
                    own_text_field=own_text_field(item.id) if own_texts else None)


def _band_legend(specs: Sequence[RatingSpec], settings: Settings, language: Language) -> str:
    """How the instructions name the bands of the ratings' scale(s)."""
    band_sets = {tuple((b.min, b.max) for b in spec.bands) for spec in specs}
    if len(band_sets) > 1:
        return language._("in each band of the item's scale")
    bands = specs[0].bands if specs else settings.bands
    return language.join([f"{b.min}-{b.max}" for b in bands])


def build_context(settings: Settings, manifest: Manifest, feedback: dict[str, ItemFeedback],
                  language: Language, new_items: Sequence[str] = (), dropped_count: int = 0,
                  earlier: Sequence[EarlierConsensus] = (),
                  rankings: Sequence[RankingFeedback] = (),
                  own_texts: Collection[str] = ()) -> QuestionnaireContext:
    """The shared context of a round's questionnaire, in the panel's ``language``.

    ``feedback`` is keyed by answer key; ``own_texts`` names the open questions whose earlier
    answers are shown back (each panellist's own, from :class:`Personal`).
    """
    asked = questions(settings, manifest)
    labels = chart_labels({g.id: g.chart_label for g in settings.groups}, language)
    sections = []
    for section in manifest.sections:
        items = [_item_view(item, [q for q in asked if q.item == item.id], feedback,
                            item.id in new_items, item.id in own_texts, language, labels)
                 for item in manifest.items if item.section == section.id]
        sections.append(SectionView(id=section.id, title=section.title, intro=section.intro,
                                    dir=text_direction(section.title, language),
                                    kind=section.kind, items=items))
    rating_specs = [q.rating for q in asked if q.rating is not None]
    scales = {(spec.scale.min, spec.scale.max) for spec in rating_specs}
    low, high = scales.pop() if len(scales) == 1 else (settings.scale.min, settings.scale.max)
    unsure = {spec.unsure.label if spec.unsure else None for spec in rating_specs}
    return QuestionnaireContext(
        title=settings.title, round=manifest.round, language=language.tag,
        dir=language.direction, study_hash=manifest.hash,
        code_length=max((len(code) for code in manifest.invited), default=4),
        one_scale=len(scales) == 0, scale_min=low, scale_max=high,
        unsure_label=unsure.pop() if len(unsure) == 1 else None,
        has_dimensions=any(q.dimension for q in asked),
        has_choices=any(item.kind == "choice" for item in manifest.items),
        has_open=any(item.kind == "open" for item in manifest.items),
        band_legend=_band_legend(rating_specs, settings, language), has_feedback=bool(feedback),
        dropped_count=dropped_count,
        sections=sections, earlier_consensus=list(earlier), rankings=list(rankings))


def printed_answer(question: Question | None, answer: Answer | None,
                   no_rating: str = NO_RATING) -> str:
    """An answer as a panellist is shown it back: the rating, the unsure label, the option."""
    if answer is None:
        return no_rating
    if answer.kind == "unsure":
        unsure = question.rating.unsure if question and question.rating else None
        return unsure.label if unsure else "unsure"
    if answer.kind == "choice" and question is not None:
        return next((o.label for o in question.options if o.id == answer.value),
                    str(answer.value))
    return str(answer.value)


def personals(context: QuestionnaireContext, invited: Sequence[str],
              previous: Sequence[Question], returns: Sequence[PanelReturn],
              language: Language) -> list[Personal]:
    """Each invited panellist's part: their own answers of the previous round, as printed.

    ``previous`` are the previous round's questions (what the answers are printed against);
    ``returns`` its returns. Only answers the questionnaire shows back are kept: those of
    rows with feedback, and the texts of open questions asked again.
    """
    by_key = {q.key: q for q in previous}
    keys, texts = context.rated_items(), context.text_items()
    given = {r.code: r for r in returns}
    # Translators: printed after "Your rating in round N:" when the panellist gave none; short.
    no_rating = language._("no rating")
    out = []
    for code in invited:
        ret = given.get(code)
        answers = {key: printed_answer(by_key.get(key), ret.answer(key) if ret else None,
                                       no_rating) for key in keys}
        own_texts = {i: ret.texts[i] for i in texts if ret and i in ret.texts}
        out.append(Personal(code=code, answers=answers, texts=own_texts,
                            no_rating=no_rating))
    return out
