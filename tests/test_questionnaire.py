"""Personalised questionnaires: template context, HTML, and the fillable PDF read back."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable
from pathlib import Path

import pypdf
import pytest

from delphi import actions
from delphi.core.fields import decode_id, encode_id, rating_field
from delphi.core.stats import round_half_up
from delphi.render import context as ctx_models
from delphi.render.pdf import PACKAGE_DIR, TEMPLATE, _confined_fetcher
from delphi.store.study import Study
from tests.conftest import ROOT, Result

Run = Callable[..., Result]
Make = Callable[..., Path]

FEEDBACK_RE = (r"Your rating in round (\d+): (no rating|\d+) Group response: (\S+) "
               r"Consensus level: (\S+)")


def fields(pdf: Path) -> dict[str, dict[str, object]]:
    return {k: dict(v) for k, v in pypdf.PdfReader(pdf).get_fields().items()}


def text(pdf: Path) -> str:
    pages = (page.extract_text() for page in pypdf.PdfReader(pdf).pages)
    return unicodedata.normalize("NFKC", "\n".join(pages))


def feedback_in(pdf_text: str, item_ids: list[str]) -> dict[str, tuple[str, str, str]]:
    """For each item, the first feedback line after its id at the start of a line."""
    found = {}
    for item_id in item_ids:
        start = re.search(rf"(?m)^{re.escape(item_id)}(?![0-9.])", pdf_text)
        assert start, item_id
        match = re.search(FEEDBACK_RE, " ".join(pdf_text[start.end():].split()))
        assert match, item_id
        found[item_id] = (match.group(2), match.group(3), match.group(4))
    return found


@pytest.fixture
def round_2(make_study: Make, cli: Run) -> Path:
    """The tiny study with round 2 built, asking 1.1 again (--keep) with feedback."""
    root = make_study(returns="code,1.1,1.2,5.1,5.2\nE1,9,2,7,5\nE2,9,3,7,4\nU1,3,,9,3\n")
    assert cli("analyse", "--study", str(root)).exit_code == 0
    result = cli("new-round", "--study", str(root), "--keep", "1.2", "--workers", "1")
    assert result.exit_code == 0, result.stderr
    return root


def test_field_names_survive_pdf_readers() -> None:
    assert encode_id("1.10") == "1~10" and decode_id("1~10") == "1.10"
    assert "." not in rating_field("12.3.4")


def test_pdf_has_one_radio_group_per_item_and_recoverable_identity(round_2: Path) -> None:
    pdf = round_2 / "rounds/round-2/questionnaires/E1.pdf"
    found = fields(pdf)
    manifest = Study(round_2).manifest(2)
    for item_id in manifest.item_ids():
        group = found[rating_field(item_id)]
        assert group["/FT"] == "/Btn"
        assert group["/_States_"] == [f"/{k}" for k in range(9)]
        assert group["/Opt"] == [str(v) for v in range(1, 10)]
        assert f"comment_{encode_id(item_id)}" in found
    assert "suggestions" in found
    assert not [name for name in found if "." in name]  # radio buttons are not fields
    info = pypdf.PdfReader(pdf).metadata
    assert (info["/delphicode"], info["/delphiround"]) == ("E1", "2")
    assert info["/delphistudy"] == manifest.hash


def test_feedback_box_matches_results_json(round_2: Path) -> None:
    results = json.loads((round_2 / "rounds/round-1/results.json").read_text())
    item = next(i for i in results["items"] if i["id"] == "1.2")
    expected = (str(round_half_up(item["median"])), str(round_half_up(item["iqr"])))
    e1 = feedback_in(text(round_2 / "rounds/round-2/questionnaires/E1.pdf"), ["1.2"])
    assert e1["1.2"] == ("2", *expected)
    u1 = feedback_in(text(round_2 / "rounds/round-2/questionnaires/U1.pdf"), ["1.2"])
    assert u1["1.2"] == ("no rating", *expected)


def test_divergence_is_stated_with_the_groups_and_medians(make_study: Make, cli: Run) -> None:
    root = make_study(returns="code,1.1,1.2\nE1,9,2\nE2,9,3\nU1,3,5\n")
    assert cli("analyse", "--study", str(root)).exit_code == 0
    assert cli("new-round", "--study", str(root), "--keep", "1.1", "--workers", "1",
               ).exit_code == 0
    content = " ".join(text(root / "rounds/round-2/questionnaires/U2.pdf").split())
    assert ("The stakeholder groups differed on this item. Group medians: Expert authors 9.0 "
            "and Service users 3.0.") in content


def test_nothing_identifying_on_another_panellists_questionnaire(round_2: Path) -> None:
    content = text(round_2 / "rounds/round-2/questionnaires/E1.pdf")
    for name in ("Ann Example", "Ben Example", "ann@example.org", "1 Example Road", "E2", "U1"):
        assert name not in content
    assert "E1" in content


def test_template_uses_only_documented_context(round_2: Path) -> None:
    template = (PACKAGE_DIR / "templates" / TEMPLATE).read_text()
    used = set(re.findall(r"\b(?:q|me|item|section|row|e|o|block|row\.feedback)\.(\w+)",
                          template))
    documented = set()
    for model in (ctx_models.QuestionnaireContext, ctx_models.ItemView, ctx_models.SectionView,
                  ctx_models.AnswerRow, ctx_models.OptionView, ctx_models.Personal,
                  ctx_models.ItemFeedback, ctx_models.BandShare, ctx_models.EarlierConsensus,
                  ctx_models.RankingFeedback):
        documented |= set(model.model_fields)
    documented |= {"get", "rank", "text", "median", "mean"}  # dict.get; RankedOption fields
    documented.add(ctx_models.Personal.own.__name__)
    assert used <= documented, used - documented
    unused = set(ctx_models.QuestionnaireContext.model_fields) - used
    assert not unused, f"context fields the template never shows: {unused}"


def test_html_is_autoescaped(make_study: Make, cli: Run) -> None:
    root = make_study(returns=None)
    items = (root / "questionnaires/items.yaml").read_text().replace(
        "text: First statement", "text: \"<script>alert(1)</script> & more\"")
    (root / "questionnaires/items.yaml").write_text(items)
    import shutil

    shutil.rmtree(root / "rounds")
    assert cli("new-round", "--study", str(root), "--workers", "1").exit_code == 0
    result = cli("preview", "E1", "--study", str(root))
    assert result.exit_code == 0, result.stderr
    html = (root / "rounds/round-1/preview/E1.html").read_text()
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in html


def test_renderer_fetches_nothing_outside_the_study(tmp_path: Path) -> None:
    fetcher = _confined_fetcher([tmp_path])
    (tmp_path / "logo.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    assert fetcher.fetch((tmp_path / "logo.svg").as_uri())
    for url in ("http://example.org/tracker.png", "https://example.org/a.css",
                Path("/etc/passwd").as_uri()):
        with pytest.raises(ValueError, match="delphi does not fetch"):
            fetcher.fetch(url)


def test_study_can_override_the_template(round_2: Path, cli: Run) -> None:
    override = round_2 / "templates" / TEMPLATE
    override.parent.mkdir()
    override.write_text((PACKAGE_DIR / "templates" / TEMPLATE).read_text().replace(
        "Thank you for your time and support.", "Merci beaucoup."))
    result = cli("preview", "E1", "--study", str(round_2), "--round", "2")
    assert result.exit_code == 0, result.stderr
    assert "Merci beaucoup." in (round_2 / "rounds/round-2/preview/E1.html").read_text()


def test_preview_of_an_unknown_code(round_2: Path, cli: Run) -> None:
    result = cli("preview", "ZZ1", "--study", str(round_2))
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: panellist code 'ZZ1' was not invited to round 2"


def test_example_round_2_questionnaire(tmp_path: Path) -> None:
    """One panellist of the committed example round 2, read back and checked item by item."""
    outcome = actions.preview(ROOT, "EA02", round=2, output=tmp_path)
    study = Study(ROOT)
    manifest = study.manifest(2)
    found = fields(outcome.pdf)
    radio = [n for n in found if n.startswith("rating_")]
    assert sorted(radio) == sorted(rating_field(i) for i in manifest.item_ids())
    assert len(radio) == 44

    results = json.loads((ROOT / "rounds/round-1/results.json").read_text())
    by_id = {i["id"]: i for i in results["items"]}
    own = next(r for r in study.returns(1) if r.code == "EA02").ratings
    asked_before = [i for i in manifest.item_ids() if i in by_id]

    def expected(item_id: str) -> tuple[str, str, str]:
        mine = own.get(item_id)
        return ("no rating" if mine is None else str(mine),
                str(round_half_up(by_id[item_id]["median"])),
                str(round_half_up(by_id[item_id]["iqr"])))

    # pypdf needs seconds per page of charts to extract text: read the PDF's first page, and
    # every item in the HTML the PDF was laid out from.
    first_page = pypdf.PdfReader(outcome.pdf).pages[0].extract_text()
    on_page = [i for i in asked_before if re.search(rf"(?m)^{re.escape(i)} ", first_page)]
    assert len(on_page) >= 2
    shown = feedback_in(first_page, on_page)
    assert shown == {i: expected(i) for i in on_page}
    html = re.sub(r"<[^>]+>", " ", outcome.html.read_text())
    html = "\n".join(" ".join(line.split()) for line in html.splitlines() if line.strip())
    shown = feedback_in(html, asked_before)
    assert shown == {i: expected(i) for i in asked_before}
    new_items = [i for i in manifest.item_ids() if i not in by_id]
    assert new_items == ["1.14", "2.20", "2.21", "2.22", "4.9"]


def test_round_3_lists_earlier_consensus_and_ranking_results(make_study: Make,
                                                                cli: Run) -> None:
    root = make_study(returns="code,1.1,1.2,5.1,5.2\nE1,9,2,7,5\nE2,9,3,7,4\nU1,3,1,9,3\n")
    assert cli("analyse", "--study", str(root)).exit_code == 0
    assert cli("new-round", "--study", str(root), "--workers", "1").exit_code == 0
    (root / "rounds/round-2/returns").mkdir()
    (root / "rounds/round-2/returns/returns.csv").write_text("code,1.1\nE1,8\nU1,4\nU2,9\n")
    assert cli("analyse", "--study", str(root)).exit_code == 0
    result = cli("new-round", "--study", str(root), "--workers", "1")
    assert result.exit_code == 0, result.stderr
    assert "Round 3" in result.stdout
    preview = cli("preview", "U2", "--study", str(root))
    assert preview.exit_code == 0, preview.stderr
    html = " ".join((root / "rounds/round-3/preview/U2.html").read_text().split())
    assert "Statements on which the panel has reached consensus" in html
    assert "<td>1.2</td><td>Second statement</td><td>1</td>" in html
    assert "Priorities: results of round 1" in html
    assert re.search(r'Your rating in round 2: <b class="slot own"[^>]*>9</b>', html)


def test_questionnaire_embeds_only_the_glyphs_it_prints(round_2: Path) -> None:
    """Text fonts are subset; form fields name the reader's own font, which is not embedded."""
    reader = pypdf.PdfReader(round_2 / "rounds/round-2/questionnaires/E1.pdf")
    programs = {}
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            for descendant in font.get("/DescendantFonts", []):
                descriptor = descendant.get_object()["/FontDescriptor"].get_object()
                programs[str(font["/BaseFont"])] = len(descriptor["/FontFile2"].get_data())
    assert any("DejaVu-Sans" in name for name in programs)
    assert all(size < 60_000 for size in programs.values()), programs  # whole DejaVu: 760 KB
    acroform = reader.trailer["/Root"]["/AcroForm"]
    assert "/NeedAppearances" not in acroform  # readers draw the fields' own appearances
    assert all("/AP" in a.get_object() for page in reader.pages for a in page["/Annots"])
    helv = acroform["/DR"]["/Font"]["/Helv"].get_object()
    assert (helv["/Subtype"], helv["/BaseFont"]) == ("/Type1", "/Helvetica")
    assert "/FontDescriptor" not in helv  # never embedded: the reader shows typed text
    appearances = [str(annotation.get_object()["/DA"]) for page in reader.pages
                   for annotation in page.get("/Annots", [])
                   if annotation.get_object().get("/FT") == "/Tx"]
    assert appearances and all(re.search(r"/Helv [0-9.]+ Tf", da) for da in appearances)


def test_radio_buttons_share_two_appearances(round_2: Path) -> None:
    """Every button is drawn by the same two appearances, off (a circle) and on (a dot)."""
    reader = pypdf.PdfReader(round_2 / "rounds/round-2/questionnaires/E1.pdf")
    states: dict[str, set[int]] = {}
    buttons = 0
    for page in reader.pages:
        for annotation in page.get("/Annots", []):
            annotation = annotation.get_object()
            if "/Parent" in annotation:
                buttons += 1
                assert annotation["/AS"] == "/Off"
                for state, ref in annotation["/AP"]["/N"].items():
                    states.setdefault("off" if state == "/Off" else "on", set()).add(ref.idnum)
    assert buttons == 2 * 9
    assert len(states["off"]) == len(states["on"]) == 1 and states["off"] != states["on"]
    off = reader.get_object(next(iter(states["off"]))).get_data()
    on = reader.get_object(next(iter(states["on"]))).get_data()
    assert b" S" in off and on.startswith(off[:-2]) and on.endswith(b" f Q")


def test_comments_in_any_script_import_exactly(round_2: Path, tmp_path: Path, cli: Run) -> None:
    """Typed text is Unicode in the field's value, whatever font the reader showed it in."""
    typed = "Crème brûlée — Ελληνικά — Русский — العربية — עברית — 中文"
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(
        round_2 / "rounds/round-2/questionnaires/E1.pdf"))
    for page in writer.pages:
        writer.update_page_form_field_values(page, {"comment_1~1": typed, "suggestions": typed},
                                             auto_regenerate=False)
    writer.write(tmp_path / "E1-filled.pdf")
    result = cli("import", str(tmp_path / "E1-filled.pdf"), "--study", str(round_2))
    assert result.exit_code == 0, result.stderr
    (only,) = [r for r in Study(round_2).returns(2) if r.code == "E1"]
    assert only.comments["1.1"] == typed and only.suggestions == typed
