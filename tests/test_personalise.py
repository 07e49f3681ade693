"""A round is laid out once and personalised per panellist: the copies differ only in their own
values, and each copy is what laying that panellist's questionnaire out alone would give."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pypdf
import pytest

from delphi import actions
from delphi.render.context import Personal
from delphi.render.pdf import PACKAGE_DIR, TEMPLATE, Renderer, personalised, questionnaire
from delphi.render.personalise import MARK, NotPersonalisable
from delphi.store.study import Study
from tests.conftest import Result

Run = Callable[..., Result]
Make = Callable[..., Path]
Run_ = list[tuple[str, tuple[float, ...]]]


def shown(pdf: bytes | Path) -> list[Run_]:
    """Per page, every piece of text pypdf sees shown, with where it is shown."""
    reader = pypdf.PdfReader(pdf if isinstance(pdf, Path) else io.BytesIO(pdf))
    pages = []
    for page in reader.pages:
        runs: Run_ = []

        def visit(text: str, cm: Any, tm: Any, font: Any, size: Any, runs: Run_ = runs) -> None:
            if text.strip():
                runs.append((text.strip(), tuple(round(v, 2) for v in (*cm, *tm))))
        page.extract_text(visitor_text=visit)
        pages.append(runs)
    return pages


def information(pdf: Path) -> tuple[dict[str, Any], dict[str, Any], str]:
    """Document information, form field values and XMP metadata."""
    reader = pypdf.PdfReader(pdf)
    fields = {name: field.get("/V") for name, field in reader.get_fields().items()}
    xmp = reader.trailer["/Root"]["/Metadata"].get_object().get_data().decode()
    return dict(reader.metadata or {}), fields, xmp


def personals(root: Path, round_no: int) -> dict[str, Personal]:
    _, people = actions.questionnaire_context(Study(root), round_no)
    return {p.code: p for p in people}


@pytest.fixture
def round_2(make_study: Make, cli: Run) -> Path:
    """The tiny study's round 2, with feedback on 1.1, 1.2 and the ranking options."""
    root = make_study(returns="code,1.1,1.2,5.1,5.2\nE1,9,2,7,5\nE2,9,3,7,4\nU1,3,,9,3\n")
    assert cli("analyse", "--study", str(root)).exit_code == 0
    result = cli("new-round", "--study", str(root), "--keep", "1.2")
    assert result.exit_code == 0, result.stderr
    assert "laid out on its own" not in result.stdout
    return root


def test_two_panellists_pdfs_differ_only_in_their_own_values(round_2: Path) -> None:
    folder = round_2 / "rounds/round-2/questionnaires"
    me = personals(round_2, 2)
    a, b = me["E1"], me["U2"]  # U2 did not answer round 1: "no rating" throughout
    items = list(a.answers)
    assert items and set(b.answers.values()) == {"no rating"}
    pages_a, pages_b = shown(folder / "E1.pdf"), shown(folder / "U2.pdf")
    assert [len(p) for p in pages_a] == [len(p) for p in pages_b]
    differences = []
    for page_a, page_b in zip(pages_a, pages_b, strict=True):
        for (text_a, where_a), (text_b, where_b) in zip(page_a, page_b, strict=True):
            assert where_a == where_b, (text_a, text_b)  # same place, same size
            if text_a != text_b:
                differences.append((text_a, text_b))
    own = [(a.own(i), b.own(i)) for i in items if a.own(i) != b.own(i)]
    codes = [(t_a, t_b) for t_a, t_b in differences if t_a.replace("E1", "U2") == t_b]
    assert len(codes) >= len(pages_a) + 1  # the page headers and the code box
    assert [d for d in differences if d not in codes] == own

    info_a, fields_a, xmp_a = information(folder / "E1.pdf")
    info_b, fields_b, xmp_b = information(folder / "U2.pdf")
    assert {k: v.replace("E1", "U2") for k, v in info_a.items()} == info_b
    assert info_b["/delphicode"] == "U2" and "(U2)" in info_b["/Title"]
    assert {k: v for k, v in fields_a.items() if k != "delphi_code"} == \
        {k: v for k, v in fields_b.items() if k != "delphi_code"}
    assert (fields_a["delphi_code"], fields_b["delphi_code"]) == ("E1", "U2")
    assert xmp_a.replace("E1", "U2") == xmp_b and "(U2)" in xmp_b


def test_a_copy_is_what_laying_it_out_alone_gives(round_2: Path) -> None:
    """Every piece of text at the same place as in the panellist's own layout."""
    context, people = actions.questionnaire_context(Study(round_2), 2)
    renderer = Renderer(round_2)
    copy = (round_2 / "rounds/round-2/questionnaires/E2.pdf").read_bytes()
    alone = renderer.pdf(context, next(p for p in people if p.code == "E2"))
    assert shown(copy) == shown(alone)
    reader = pypdf.PdfReader(io.BytesIO(copy))
    assert reader.trailer["/Root"]["/MarkInfo"]["/Marked"]  # still a tagged PDF
    assert "/StructTreeRoot" in reader.trailer["/Root"]
    text = "".join(page.extract_text() for page in reader.pages)
    assert MARK not in text and not re.search(r"no rating(?!s)", text)  # "no ratings": a chart
    assert "Your rating in round 1: 9" in " ".join(text.split())


def test_a_copy_keeps_its_fillable_fields(round_2: Path) -> None:
    reader = pypdf.PdfReader(round_2 / "rounds/round-2/questionnaires/U1.pdf")
    writer = pypdf.PdfWriter(clone_from=reader)
    writer.update_page_form_field_values(writer.pages[0], {"rating_1~1": "/6"},
                                         auto_regenerate=False)
    filled = io.BytesIO()
    writer.write(filled)
    values = {k: v.get("/V") for k, v in pypdf.PdfReader(filled).get_fields().items()}
    assert values["rating_1~1"] == "/6" and values["delphi_code"] == "U1"


def test_a_template_without_slots_is_laid_out_per_panellist(round_2: Path, cli: Run) -> None:
    override = round_2 / "templates" / TEMPLATE
    override.parent.mkdir()
    template = (PACKAGE_DIR / "templates" / TEMPLATE).read_text()
    # The code printed in two pieces: no run of text holds the whole placeholder.
    override.write_text(template.replace(
        '">{{ me.code }}</strong>', '">{{ me.code[:2] }}<i>{{ me.code[2:] }}</i></strong>', 1))
    result = cli("new-round", "--study", str(round_2), "--round", "2", "--force", "--keep", "1.2",
                 "--workers", "1")
    assert result.exit_code == 0, result.stderr
    assert "each questionnaire was laid out on its own" in " ".join(result.stdout.split())
    assert "split across text runs" in " ".join(result.stdout.split())
    text = pypdf.PdfReader(round_2 / "rounds/round-2/questionnaires/E2.pdf").pages[0]
    assert "E2" in text.extract_text() and MARK not in text.extract_text()


def test_a_value_printed_inline_is_laid_out_per_panellist(round_2: Path, cli: Run) -> None:
    """An own rating printed among other text would push it about: no shared layout."""
    override = round_2 / "templates" / TEMPLATE
    override.parent.mkdir()
    template = (PACKAGE_DIR / "templates" / TEMPLATE).read_text()
    slot = '<b class="slot own" style="width: {{ row.own_width }}em">{{ me.own(row.key) }}</b>'
    assert slot in template
    override.write_text(template.replace(slot, '{{ me.own(row.key) }}'))
    result = cli("new-round", "--study", str(round_2), "--round", "2", "--force", "--keep", "1.2",
                 "--workers", "1")
    assert result.exit_code == 0, result.stderr
    assert "printed outside a slot" in " ".join(result.stdout.split())
    text = pypdf.PdfReader(round_2 / "rounds/round-2/questionnaires/U2.pdf").pages[0]
    assert "Your rating in round 1: no rating" in " ".join(text.extract_text().split())


def test_preview_is_made_like_the_round(round_2: Path) -> None:
    outcome = actions.preview(round_2, "E1", round=2)
    made = (round_2 / "rounds/round-2/questionnaires/E1.pdf").read_bytes()
    assert shown(outcome.pdf) == shown(made)


def test_a_value_the_layout_has_no_glyph_for(round_2: Path) -> None:
    """Values outside the characters the round was laid out with: that copy is laid out alone."""
    context, people = actions.questionnaire_context(Study(round_2), 2)
    renderer = Renderer(round_2)
    layout = renderer.shared_layout(context, people)
    with pytest.raises(NotPersonalisable, match="no glyph"):
        layout.personalise({0: "Q7", 1: ""}, seed="x")
    stranger = Personal(code="Q7", answers={})
    pdf = personalised(renderer, layout, context, stranger)
    assert "Panellist Q7" in pypdf.PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert shown(pdf) == shown(questionnaire(renderer, context, stranger))
