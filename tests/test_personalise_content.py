"""A personalised copy says exactly what the panellist's questionnaire laid out alone says.

Compared page by page: the content streams (every operator: the text with its glyphs, fonts,
sizes, positions and spacing, the drawing, the tagging), the text as a reader extracts it, and
the form fields. The one difference allowed is the shared layout's hidden run of glyphs, which
each copy keeps empty (a tagged span with no text), and the marked-content numbers after it.
Checked for the package's template and for a study's own template and stylesheet.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pypdf
import pytest

from delphi import actions
from delphi.core.rounds import plan_round
from delphi.render import personalise
from delphi.render.pdf import PACKAGE_DIR, STYLESHEET, TEMPLATE, Renderer, personalised
from delphi.render.personalise import NotPersonalisable, UnprovenVersions
from delphi.store.study import Study
from tests.conftest import Result

Run = Callable[..., Result]
Make = Callable[..., Path]

# The hidden glyph run as a copy keeps it: clipped to nothing, a tagged span showing no glyph.
EMPTY_GLYPH_RUN = re.compile(rb"q\nq\n[-0-9. ]+ re\nW\nn\n/Span\n<</MCID \d+>>\nBDC\n"
                             rb"(?:(?!EMC\n).)*?\[\] TJ\nET\nEMC\nQ\nQ\n", re.S)
MCID = re.compile(rb"<</MCID \d+>>")


def pages(pdf: bytes) -> list[bytes]:
    """Each page's content, uncompressed: its stream, or its streams one after the other."""
    out = []
    for page in pypdf.PdfReader(io.BytesIO(pdf)).pages:
        contents = page["/Contents"].get_object()
        streams = contents if isinstance(contents, list) else [contents]
        out.append(b"".join(stream.get_object().get_data() for stream in streams))
    return out


def fields(pdf: bytes) -> dict[str, Any]:
    """Every form field: type, flags, value, options, and its widgets' places."""
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    out = {}
    for name, field in reader.get_fields().items():
        out[name] = {key: str(field.get(key)) for key in ("/FT", "/Ff", "/V", "/Opt")}
    widgets = sorted((str(a.get_object().get("/Parent", {}).get("/T", a.get_object().get("/T"))),
                      [round(float(v), 3) for v in a.get_object()["/Rect"]])
                     for page in reader.pages for a in page.get("/Annots", []))
    out["widgets"] = widgets
    return out


def texts(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages]


def assert_same_content(copy: bytes, alone: bytes) -> None:
    assert copy.startswith(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")  # made from the shared layout
    copied, laid_out = pages(copy), pages(alone)
    assert len(copied) == len(laid_out)
    runs = sum(len(EMPTY_GLYPH_RUN.findall(page)) for page in copied)
    assert runs == 1 and not any(EMPTY_GLYPH_RUN.search(page) for page in laid_out)
    for number, (a, b) in enumerate(zip(copied, laid_out, strict=True), start=1):
        a, b = MCID.sub(b"MCID", EMPTY_GLYPH_RUN.sub(b"", a)), MCID.sub(b"MCID", b)
        assert a == b, f"page {number} differs"
    assert texts(copy) == texts(alone)
    assert fields(copy) == fields(alone)


@pytest.fixture
def round_2(make_study: Make, cli: Run) -> Path:
    """The tiny study's round 2: own ratings, "no rating" (U2), feedback on every item."""
    root = make_study(returns="code,1.1,1.2,5.1,5.2\nE1,9,2,7,5\nE2,9,3,7,4\nU1,3,,9,3\n")
    assert cli("analyse", "--study", str(root)).exit_code == 0
    folder = Study(root)
    plan = plan_round(folder.settings, folder.bank, folder.roster, 2,
                      actions._earlier_results(folder, 2), keep=["1.1", "1.2"])
    folder.write_manifest(plan.manifest)  # its PDFs are made by the tests
    return root


def copies_and_alone(root: Path) -> list[tuple[str, bytes, bytes]]:
    context, people = actions.questionnaire_context(Study(root), 2)
    renderer = Renderer(root)
    layout = renderer.shared_layout(context, people)
    return [(me.code, personalised(renderer, layout, context, me), renderer.pdf(context, me))
            for me in people]


def test_a_copy_of_the_package_template_is_the_questionnaire_laid_out_alone(
        round_2: Path) -> None:
    for code, copy, alone in copies_and_alone(round_2):
        assert f"Panellist {code}" in texts(copy)[0]
        assert_same_content(copy, alone)


def test_a_copy_of_a_studys_own_template_is_the_questionnaire_laid_out_alone(
        round_2: Path) -> None:
    own = round_2 / "templates"
    own.mkdir()
    template = (PACKAGE_DIR / "templates" / TEMPLATE).read_text()
    own_rating = ('<b class="slot own" style="width: {{ row.own_width }}em">'
                  '{{ me.own(row.key) }}</b>')
    assert template.count(own_rating) == 2  # a choice's and a rating's
    (own / TEMPLATE).write_text(template.replace(own_rating, (
        'previously <b class="slot own mine" style="width: {{ row.own_width }}em">'
        '{{ me.own(row.key) }}</b>')))
    (own / STYLESHEET).write_text((PACKAGE_DIR / "templates" / STYLESHEET).read_text()
                                  + "\n.feedback .numbers b.mine { font-size: 15pt; }\n"
                                  ".idbox strong { font-size: 22pt; }\n")
    made = copies_and_alone(round_2)
    assert "previously 9" in " ".join(texts(made[0][1])[0].split())  # E1's own rating of 1.1
    for _, copy, alone in made:
        assert_same_content(copy, alone)


def test_other_weasyprint_or_pydyf_versions_lay_each_questionnaire_out(
        round_2: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(personalise.PROVEN_WITH, "pydyf", "0.99.")
    context, people = actions.questionnaire_context(Study(round_2), 2)
    with pytest.raises(UnprovenVersions, match=r"pydyf 0\.\d+\.\d+ is not what laying a round "
                                               r"out once was proven with"):
        Renderer(round_2).shared_layout(context, people)


def test_a_fault_in_the_shared_layout_is_not_taken_for_a_template_it_cannot_use(
        round_2: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: Any, *args: Any) -> Any:
        raise KeyError("a bug of ours")

    monkeypatch.setattr(personalise.SharedLayout, "_sort", broken)
    context, people = actions.questionnaire_context(Study(round_2), 2)
    with pytest.raises(KeyError, match="a bug of ours"):
        Renderer(round_2).shared_layout(context, people)
    assert not issubclass(KeyError, NotPersonalisable)
