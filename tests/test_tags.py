"""A questionnaire's structure tree stays whole after the elements that say nothing are folded
away: every piece of marked content and every form field is held by exactly the element the
parent tree names, every element knows its parent, and what carries meaning is kept."""

from __future__ import annotations

import io
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pypdf
import pytest
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject
from typer.testing import CliRunner

from delphi.cli.app import app
from tests.conftest import ITEMS_YAML, PANEL_YAML, STUDY_YAML, build_tree, write_manifest


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny study in round 2 (statements with feedback, tables, charts, fields), with its
    report as PDF."""
    root = build_tree(tmp_path_factory.mktemp("tags") / "study", {
        "study.yaml": STUDY_YAML, "questionnaires/items.yaml": ITEMS_YAML,
        "panels/panel.yaml": PANEL_YAML})
    write_manifest(root)
    build_tree(root, {"rounds/round-1/returns/returns.csv":
                      "code,1.1,1.2,5.1,5.2\nE1,9,2,7,5\nE2,9,3,7,4\nU1,3,,9,3\n"})
    runner = CliRunner()
    for args in (["analyse"], ["new-round", "--keep", "1.2"], ["report", "--format", "pdf"]):
        result = runner.invoke(app, [*args, "--study", str(root)])
        assert result.exit_code == 0, result.output
    return root


@pytest.fixture(scope="module")
def questionnaire(study: Path) -> Path:
    return study / "rounds/round-2/questionnaires/U1.pdf"


class Tree:
    """The structure tree of a PDF read back with pypdf, walked from the root."""

    def __init__(self, reader: pypdf.PdfReader) -> None:
        self.reader = reader
        self.pages = {page.indirect_reference.idnum: index
                      for index, page in enumerate(reader.pages)}
        self.content: dict[tuple[int, int], int] = {}  # (page, mcid) -> element
        self.objects: dict[int, int] = {}  # annotation -> element holding its OBJR
        self.roles: Counter[str] = Counter()
        self.elements: dict[int, DictionaryObject] = {}
        root = reader.trailer["/Root"]["/StructTreeRoot"]
        for kid in self._kids(root):
            self._walk(kid, root.indirect_reference)

    @staticmethod
    def _kids(element: Any) -> list[Any]:
        kids = element.get("/K", [])
        return list(kids) if isinstance(kids, ArrayObject) else [kids]

    def _walk(self, reference: IndirectObject, parent: IndirectObject) -> None:
        element = reference.get_object()
        assert element.raw_get("/P").idnum == parent.idnum, f"element {reference.idnum}: wrong /P"
        assert reference.idnum not in self.elements, f"element {reference.idnum} twice"
        self.elements[reference.idnum] = element
        self.roles[str(element["/S"])] += 1
        for kid in self._kids(element):
            if isinstance(kid, int):
                page = self.pages[element.raw_get("/Pg").idnum]
                assert (page, kid) not in self.content, f"MCID {kid} of page {page} twice"
                self.content[(page, kid)] = reference.idnum
                continue
            target = kid.get_object() if isinstance(kid, IndirectObject) else kid
            if target.get("/Type") == "/OBJR":
                self.objects[target.raw_get("/Obj").idnum] = reference.idnum
            elif target.get("/Type") == "/MCR":
                page = self.pages[target.raw_get("/Pg").idnum]
                self.content[(page, int(target["/MCID"]))] = reference.idnum
            else:
                self._walk(kid, reference)


def parent_tree(reader: pypdf.PdfReader) -> dict[int, Any]:
    nums = reader.trailer["/Root"]["/StructTreeRoot"]["/ParentTree"].get_object()["/Nums"]
    return {int(nums[i]): nums[i + 1] for i in range(0, len(nums), 2)}


def check_whole(reader: pypdf.PdfReader) -> Tree:
    """The tree holds each page's marked content and annotations where the parent tree says."""
    tree = Tree(reader)
    mapping = parent_tree(reader)
    for index, page in enumerate(reader.pages):
        data = page.get_contents().get_data().decode("latin-1")
        shown = {int(mcid) for mcid in re.findall(r"/MCID (\d+)", data)}
        held = {mcid for (on, mcid) in tree.content if on == index}
        assert held <= shown, f"page {index + 1}: the tree holds content not shown"
        by_mcid = mapping[int(page["/StructParents"])].get_object()
        for mcid in shown:
            holder = by_mcid[mcid]
            if (index, mcid) in tree.content:
                assert holder.idnum == tree.content[(index, mcid)]
            else:  # weasyprint maps the page margins' text but keeps it out of the tree
                assert mcid in Tree._kids(holder.get_object()), f"MCID {mcid}: no holder"
        for annotation in page.get("/Annots", []):
            holder = mapping[int(annotation.get_object()["/StructParent"])].idnum
            assert tree.objects[annotation.idnum] == holder, f"annotation {annotation.idnum}"
    return tree


MARKUP = {
    "a link with markup inside": '<p>Site: <a href="https://example.org/s"><b>example</b> '
                                 '<span>org</span></a> and <a href="#x"><i>here</i></a>.</p>'
                                 '<h2 id="x">Target</h2>',
    "lists": "<ul><li>one <b>bold</b></li><li><p>two</p><ul><li>nested</li></ul></li></ul>"
             "<dl><dt>term</dt><dd>meaning <span>more</span></dd></dl>"
             '<ol style="list-style: none"><li>plain</li></ol>',
    "a table with headers": "<table><thead><tr><th>A</th><th scope=col>B</th></tr></thead>"
                            "<tbody><tr><th scope=row>r</th><td><span>x</span></td></tr>"
                            "<tr><td></td><td><div><div>deep</div></div></td></tr></tbody>"
                            "</table>",
    "text across pages": "<div><p>" + "<span>words</span> and more words " * 900 + "</p></div>",
}


@pytest.mark.parametrize("html", MARKUP.values(), ids=MARKUP.keys())
def test_a_study_templates_markup_keeps_the_tree_whole(html: str) -> None:
    """What a study's own template may hold, through the same lean steps."""
    import weasyprint

    from delphi.render.lean import compact
    from delphi.render.tags import lean_tags

    def finish(document: Any, pdf: Any) -> None:
        lean_tags(pdf)
        compact(pdf)

    made = weasyprint.HTML(string=f'<html lang="en"><title>t</title><body>{html}</body></html>'
                           ).write_pdf(pdf_variant="pdf/ua-1", finisher=finish)
    tree = check_whole(pypdf.PdfReader(io.BytesIO(made)))
    assert tree.content
    if "href" in html:
        assert tree.roles["/Link"] >= 2 and len(tree.objects) >= 2


@pytest.mark.parametrize("made", ["rounds/round-2/questionnaires/U1.pdf", "report/report.pdf"])
def test_every_content_and_field_is_held_where_the_parent_tree_says(study: Path, made: str
                                                                    ) -> None:
    reader = pypdf.PdfReader(study / made)
    tree = check_whole(reader)
    assert tree.content
    for page in reader.pages:
        for annotation in page.get("/Annots", []):
            if annotation.get_object().get("/Subtype") == "/Widget":
                assert tree.elements[tree.objects[annotation.idnum]]["/S"] == "/Form"


def test_only_what_says_something_is_left(questionnaire: Path) -> None:
    reader = pypdf.PdfReader(questionnaire)
    tree = Tree(reader)
    plain = {"/Type", "/S", "/K", "/Pg", "/P"}
    for number, element in tree.elements.items():
        if element["/S"] in ("/Span", "/NonStruct"):
            assert set(element) - plain, f"element {number}: a plain grouping element is left"
        if element["/S"] in ("/Span", "/NonStruct", "/Div"):
            assert Tree._kids(element), f"element {number}: an empty element is left"
    # What carries meaning is kept: the headings, the scale's tables, each field in a Form
    # element, the charts as figures with their alternative text.
    assert tree.roles["/H1"] == 1 and tree.roles["/H2"] >= 1
    assert tree.roles["/Table"] >= 2 and tree.roles["/TD"] >= 18
    assert tree.roles["/Form"] == len(tree.objects) >= 20
    figures = [e for e in tree.elements.values() if e["/S"] == "/Figure"]
    assert figures and all(str(figure.get("/Alt", "")).strip() for figure in figures)


@pytest.mark.parametrize("made", ["rounds/round-2/questionnaires/U1.pdf", "report/report.pdf"])
def test_no_object_is_left_free(study: Path, made: str) -> None:
    """What the lean steps freed is out of the file: the object numbers run without a gap."""
    reader = pypdf.PdfReader(study / made)
    size = int(reader.trailer["/Size"])
    for number in range(1, size - 1):  # the last one is the cross-reference stream itself
        assert reader.get_object(number) is not None, f"object {number} is free"
