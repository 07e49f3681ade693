"""The panel's language: catalogs, formatting, and the example study in French, German, Spanish."""

from __future__ import annotations

import email
import functools
import html as htmllib
import io
import re
import shutil
import unicodedata
from collections.abc import Callable
from datetime import date
from email.message import Message
from pathlib import Path

import pypdf
import pytest
from babel.messages.pofile import read_po

from delphi.errors import DelphiError
from delphi.i18n import LOCALE_DIR, load_language, shipped_languages
from delphi.store.study import Study
from tests.conftest import ROOT, Result

Run = Callable[..., Result]
Make = Callable[..., Path]

POT = LOCALE_DIR / "delphi.pot"
TRANSLATED = [tag for tag in shipped_languages() if tag != "en"]


def catalog(tag: str):  # type: ignore[no-untyped-def]
    with (LOCALE_DIR / tag / "LC_MESSAGES" / "delphi.po").open("rb") as handle:
        return read_po(handle, locale=tag)


# ----------------------------------------------------------------------------- the catalogs


def test_the_template_holds_every_message_of_the_code_and_templates() -> None:
    """A message added to a template or the code without `pybabel extract` fails here."""
    from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
    from babel.messages.frontend import parse_mapping_cfg

    with (ROOT / "babel.cfg").open() as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    keywords = {**DEFAULT_KEYWORDS, "n_": (1, 2)}
    found = {message for _, _, message, _, _ in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=keywords)}
    with POT.open("rb") as handle:
        pot = {m.id for m in read_po(handle) if m.id}
    assert found == pot, ("delphi/locale/delphi.pot is out of date: run the commands in the "
                          "README's Translations section")


@pytest.mark.parametrize("tag", TRANSLATED)
def test_every_catalog_translates_every_message(tag: str) -> None:
    with POT.open("rb") as handle:
        pot = [m.id for m in read_po(handle) if m.id]
    po = catalog(tag)
    missing = [m for m in pot if m not in po or not po[m].string
               or (isinstance(po[m].string, tuple) and not all(po[m].string))]
    fuzzy = [m.id for m in po if m.id and m.fuzzy]
    stale = [m.id for m in po if m.id and m.id not in pot]
    assert not missing, f"{tag}: untranslated: {missing}"
    assert not fuzzy, f"{tag}: fuzzy: {fuzzy}"
    assert not stale, f"{tag}: no longer used: {stale}"
    problems = [(m.id, errors) for m, errors in po.check()]
    assert not problems, f"{tag}: {problems}"


def test_shipped_languages() -> None:
    assert {"en", "fr", "de", "es"} <= set(shipped_languages())


def test_delphi_vocabulary() -> None:
    """The method's words as the literature in each language says them."""
    words = {"fr": ["panel d'experts", "tour", "consensus", "médiane", "écart interquartile"],
             "de": ["Expertenpanel", "Runde", "Konsens", "Median", "Interquartilsabstand"],
             "es": ["panel", "ronda", "consenso", "mediana", "rango intercuartílico"]}
    for tag, expected in words.items():
        text = " ".join(str(s) for m in catalog(tag) if m.id
                        for s in (m.string if isinstance(m.string, tuple) else [m.string]))
        for word in expected:
            assert word in text, (tag, word)


# ----------------------------------------------------------------------------- formatting


@pytest.mark.parametrize(("tag", "number", "share", "share1", "day"), [
    ("en", "7.5", "75%", "87.5%", "January 12, 2027"),
    ("fr", "7,5", "75\u00a0%", "87,5\u00a0%", "12 janvier 2027"),
    ("de", "7,5", "75\u00a0%", "87,5\u00a0%", "12. Januar 2027"),
    ("es", "7,5", "75\u00a0%", "87,5\u00a0%", "12 de enero de 2027"),
])
def test_numbers_shares_and_dates_the_languages_way(tag: str, number: str, share: str,
                                                     share1: str, day: str) -> None:
    language = load_language(tag)
    assert language.number(7.45) == number  # rounded half up, as the terminal rounds
    assert language.number(None) == "–"
    assert language.percent(0.745) == share
    assert language.percent(0.875, 1) == share1
    assert language.date(date(2027, 1, 12)) == day


def test_a_study_corrects_a_translation(make_study: Make) -> None:
    root = make_study(files={"locale/fr.po": '''\
        msgid ""
        msgstr ""
        "Content-Type: text/plain; charset=utf-8\\n"

        msgid "Group response:"
        msgstr "Réponse du panel :"
        '''})
    language = load_language("fr", root)
    assert language.gettext("Group response:") == "Réponse du panel :"
    assert language.gettext("Consensus level:") == "Niveau de consensus\u00a0:"  # as shipped
    assert load_language("fr").gettext("Group response:") == "Réponse du groupe\u00a0:"


def test_a_study_adds_a_language(make_study: Make) -> None:
    root = make_study(files={"locale/pt-BR.po": '''\
        msgid ""
        msgstr ""
        "Content-Type: text/plain; charset=utf-8\\n"

        msgid "Your code"
        msgstr "Seu código"
        '''})
    language = load_language("pt-BR", root)
    assert language.gettext("Your code") == "Seu código"
    assert language.gettext("Comment") == "Comment"  # not translated: English
    assert language.number(7.5) == "7,5"


def test_a_language_without_a_catalog_is_an_error_that_says_what_to_do(make_study: Make,
                                                                       cli: Run) -> None:
    root = make_study()
    text = (root / "study.yaml").read_text()
    (root / "study.yaml").write_text(text + "language: pt\n")
    result = cli("validate", "--study", str(root))
    assert result.exit_code == 2
    assert "study.yaml: language: pt: delphi has no catalog for this language" in result.stderr
    assert "add one as locale/pt.po in the study folder" in result.stderr
    (root / "study.yaml").write_text(text + "language: xx-nowhere\n")
    result = cli("validate", "--study", str(root))
    assert result.exit_code == 2
    assert "language" in result.stderr and "'xx-nowhere' is not a language tag" in result.stderr


def test_a_broken_study_translation_names_the_file_and_line(make_study: Make) -> None:
    root = make_study(files={"locale/fr.po": '''\
        msgid ""
        msgstr ""
        "Content-Type: text/plain; charset=utf-8\\n"

        #, python-format
        msgid "Round %(round)s"
        msgstr "Tour %(tour)s"
        '''})
    with pytest.raises(DelphiError) as error:
        load_language("fr", root)
    assert str(error.value).startswith("locale/fr.po:6: message 'Round %(round)s': ")


# ------------------------------------------------------ the example study in another language

# Words every panellist-facing text of the example study may hold whatever its language: the
# study's own content (statements, titles, anchors, band and group names, people) and names.
LANGUAGES = ["fr", "de", "es"]


def example_copy(tmp: Path, tag: str) -> Path:
    """The repository's example study, rounds 1 and 2, in a temporary folder, in ``tag``."""
    root = tmp / f"example-{tag}"
    root.mkdir()
    for name in ("study.yaml", "questionnaires", "panels"):
        source = ROOT / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, root / name)
    for r in (1, 2):
        shutil.copytree(ROOT / "rounds" / f"round-{r}", root / "rounds" / f"round-{r}",
                        ignore=shutil.ignore_patterns("questionnaires", "preview", "outbox",
                                                      "post", "mail-log.jsonl"))
    with (root / "study.yaml").open("a") as handle:
        handle.write(f"language: {tag}\n")
    return root


@functools.cache
def study_words(root: Path) -> list[str]:
    """Every piece of text the study itself supplies, longest first."""
    folder = Study(root)
    s = folder.settings
    texts = [s.title, *s.anchors.values(), *(b.name for b in s.bands)]
    texts += [t for g in s.groups for t in (g.label, g.chart_label)]
    for r in folder.rounds():
        m = folder.manifest(r)
        texts += [i.text for i in m.items] + [t for sec in m.sections
                                              for t in (sec.title, sec.intro or "",
                                                        *sec.anchors.values())]
    for _, item in folder.bank.items():
        texts += [item.text, *(r.text for r in item.revisions)]
    for section in folder.bank.sections:
        texts += [section.title, section.intro or "", *(section.anchors or {}).values()]
    for p in folder.roster.panellists:
        texts += [p.name, p.email or "", p.address or ""]
        texts += [str(v) for v in p.attributes.values()] + list(p.attributes)
    texts += ["Delphi study <delphi@example.org>", "Adobe Acrobat Reader"]
    return sorted({t for t in texts if t}, key=len, reverse=True)


@functools.cache
def english_words(tag: str) -> frozenset[str]:
    """Words of the English messages that the language's translations do not also use."""
    def words(text: str) -> set[str]:
        text = re.sub(r"%\([a-z]+\)s|<[^>]+>", " ", text)
        return {w.lower() for w in re.findall(r"[A-Za-z]{2,}", text)}

    english: set[str] = set()
    foreign: set[str] = set()
    for m in catalog(tag):
        if not m.id:
            continue
        for text in m.id if isinstance(m.id, tuple) else [m.id]:
            english |= words(text)
        for text in m.string if isinstance(m.string, tuple) else [m.string]:
            foreign |= words(text)
    return frozenset(english - foreign - {"pdf", "fdr", "spss", "iqr", "fisher"})


def assert_no_english(text: str, root: Path, tag: str, where: str) -> None:
    text = " ".join(text.split())
    for piece in study_words(root):
        text = text.replace(" ".join(piece.split()), " ")
    text = re.sub(r"rounds/round-N/results\.json|results\.csv|--by", " ", text)
    left = {w for w in re.findall(r"[A-Za-z]{2,}", text) if w.lower() in english_words(tag)}
    assert not left, f"{where} ({tag}): English left: {sorted(left)} in {' '.join(text.split())}"


def visible_text(html: str) -> str:
    html = re.sub(r"<style>.*?</style>", " ", html, flags=re.S)
    return htmllib.unescape(re.sub(r"<[^>]+>", " ", html))


def eml_body(path: Path) -> tuple[str, str]:
    message: Message = email.message_from_bytes(path.read_bytes())
    body = next(part for part in message.walk() if part.get_content_type() == "text/plain")
    payload = body.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return str(email.header.make_header(email.header.decode_header(message["Subject"]))), \
        payload.decode(body.get_content_charset() or "utf-8")


def blank_pdf() -> bytes:
    writer = pypdf.PdfWriter()
    writer.add_blank_page(595, 842)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("tag", LANGUAGES)
def test_example_study_in_another_language(tag: str, tmp_path: Path, cli: Run) -> None:
    """Round-2 questionnaire, e-mails, cover letters and report: no English left, decimal commas."""
    from delphi.actions import questionnaire_context
    from delphi.render.pdf import Renderer

    root = example_copy(tmp_path, tag)
    folder = Study(root)

    # The round-2 questionnaire, as new-round lays it out (the HTML: the PDF is made from it).
    context, personals = questionnaire_context(folder, 2)
    renderer = Renderer(root, language=folder.language)
    rated = next(p for p in personals if set(p.answers.values()) - {p.no_rating})
    unrated = next(p for p in personals if set(p.answers.values()) == {p.no_rating})
    for me in (rated, unrated):
        html = renderer.html(context, me)
        assert f'<html lang="{tag}" dir="ltr">' in html
        assert_no_english(visible_text(html), root, tag, f"questionnaire of {me.code}")
        titles = " ".join(re.findall(r'(?:title|aria-label)="([^"]*)"', html))
        assert_no_english(titles, root, tag, "spoken names of the form fields and charts")
        medians = re.findall(r"<b>([0-9]+[.,][0-9])</b>", html)
        assert medians and all("," in m for m in medians), medians
        assert re.search(r">[0-9]+\u00a0%<", html)  # the charts' shares
        header = re.search(r"@top-left \{ content: ([^;]*);", html)
        assert header and "string(code)" in header.group(1)
        assert_no_english(re.sub(r"\\[0-9a-f]+ |string\(\w+\)", " ", header.group(1)), root, tag,
                          "header")
    assert load_language(tag).gettext("no rating") in renderer.html(context, unrated)

    # E-mails and the postal panellists' cover letters (send --dry-run).
    pdfs = root / "rounds" / "round-2" / "questionnaires"
    pdfs.mkdir()
    blank = blank_pdf()
    for code in folder.manifest(2).invited:
        (pdfs / f"{code}.pdf").write_bytes(blank)
    result = cli("send", "--study", str(root), "--dry-run", "--yes", "--deadline", "2027-01-12")
    assert result.exit_code == 0, result.stderr
    assert "Round 2:" in result.stdout  # the terminal stays English
    written = load_language(tag).date(date(2027, 1, 12))
    outbox = sorted((root / "rounds" / "round-2" / "outbox").glob("*.eml"))
    assert outbox
    subject, body = eml_body(outbox[0])
    assert_no_english(subject + "\n" + body, root, tag, "e-mail")
    assert written in body
    bundle = pypdf.PdfReader(root / "rounds/round-2/post/round-2-postal-bundle.pdf")
    letter = bundle.pages[0].extract_text()
    assert written in " ".join(letter.split())
    assert_no_english(letter, root, tag, "cover letter")

    from delphi.render.templates import environment

    mail = environment(root, "templates/mail", html=False, language=folder.language)
    for template, number, link, attached in [("reminder", 1, None, True),
                                             ("reminder", 2, "https://x.example/1", False),
                                             ("questionnaire", 0, "https://x.example/1", True)]:
        text = mail.get_template(f"{template}.txt.j2").render(
            panellist=folder.roster.panellists[0], sender="Delphi study <delphi@example.org>",
            study=folder.settings.title, round=2, deadline=written, number=number, link=link,
            attached=attached)
        assert_no_english(text.replace("https://x.example/1", ""), root, tag, template)

    # The report, in the formats a reader opens (the PDF is made from the HTML).
    out = tmp_path / f"report-{tag}"
    result = cli("report", "--study", str(root), "--output", str(out), "--format",
                 "md,html,json,csv", "--by", "background")
    assert result.exit_code == 0, result.stderr
    md = (out / "report.md").read_text()
    html = (out / "report.html").read_text()
    assert_no_english(md, root, tag, "report.md")
    assert_no_english(visible_text(html), root, tag, "report.html")
    assert re.search(r"[0-9],[0-9]\u00a0%", md)
    assert f'<html lang="{tag}" dir="ltr">' in html

    # The statistics files stay language-neutral.
    def analysed() -> list[bytes]:
        result = cli("analyse", "--study", str(root), "--round", "1")
        assert result.exit_code == 0, result.stderr
        return [(root / "rounds/round-1" / name).read_bytes()
                for name in ("results.json", "results.csv")]

    in_language = analysed()
    settings = (root / "study.yaml").read_text()
    (root / "study.yaml").write_text(settings.replace(f"language: {tag}\n", ""))
    assert analysed() == in_language
    assert "consensus" in (out / "ratings.csv").read_text().splitlines()[0] or \
        (out / "ratings.csv").read_text().startswith("round,code,group,item,dimension,kind")


def test_new_round_in_french_is_laid_out_once_and_personalised(make_study: Make,
                                                               cli: Run) -> None:
    root = make_study()
    with (root / "study.yaml").open("a") as handle:
        handle.write("language: fr\n")
    assert cli("analyse", "--study", str(root)).exit_code == 0
    result = cli("new-round", "--study", str(root), "--workers", "1", "--keep", "1.1")
    assert result.exit_code == 0, result.stderr
    assert "on its own" not in result.stdout  # the shared layout, personalised per panellist
    pdfs = root / "rounds" / "round-2" / "questionnaires"
    rated = pypdf.PdfReader(pdfs / "E1.pdf")
    text = " ".join(rated.pages[0].extract_text().split())
    assert "Panéliste E1 · Tour 2" in text and "Page 1 sur 1" in text
    assert "Votre cotation au tour 1\u00a0: 8" in text or "Votre cotation au tour 1 : 8" in text
    assert "Réponse du groupe" in text and "8,0" in text
    assert rated.metadata is not None and rated.metadata.title is not None
    assert rated.metadata.title.endswith("questionnaire du tour 2 (E1)")
    assert str(rated.trailer["/Root"]["/Lang"]) == "fr"
    spoken = {str(f.get("/TU")) for f in rated.get_fields().values() if f.get("/TU")}
    assert "Commentaire sur 1.1" in spoken
    unrated = " ".join(pypdf.PdfReader(pdfs / "U2.pdf").pages[0].extract_text().split())
    assert "aucune" in unrated and "Panéliste U2" in unrated


def test_three_round_report_with_stability_in_french(tmp_path: Path, cli: Run) -> None:
    root = tmp_path / "full-study"
    shutil.copytree(ROOT / "examples" / "full-study", root, ignore=lambda folder, names: [
        n for n in names if n in ("preview", "report", "outbox", "post")
        or (n == "questionnaires" and Path(folder).name.startswith("round-"))])
    with (root / "study.yaml").open("a") as handle:
        handle.write("language: fr\nstability: {statistic: kappa, required: true}\n")
    out = tmp_path / "report"
    result = cli("report", "--study", str(root), "--output", str(out), "--format", "md,xlsx")
    assert result.exit_code == 0, result.stderr
    md = (out / "report.md").read_text()
    assert "## Stabilité entre les tours" in md
    assert "kappa pondéré (pondération quadratique) d'au moins 0,60" in md
    assert_no_english(md, root, "fr", "report.md of three rounds")
    import openpyxl

    book = openpyxl.load_workbook(out / "report.xlsx")
    assert book.sheetnames[0] == "Synthèse" and "Tour 3" in book.sheetnames


# ------------------------------------------------------------- scripts beyond Latin, fonts

ARABIC = "يجب أن تكون الخدمات المتخصصة متاحة لجميع الأشخاص"
GREEK_CYRILLIC_HEBREW = "Ελληνικά · Русский · עברית"


def with_statement(make_study: Make, text: str, **files: str) -> Path:
    root = make_study(returns=None)
    items = (root / "questionnaires/items.yaml").read_text()
    (root / "questionnaires/items.yaml").write_text(
        items.replace("text: Second statement", f"text: \"{text}\""))
    shutil.rmtree(root / "rounds")
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(content)
    return root


def test_a_statement_in_arabic_reads_right_to_left(make_study: Make, cli: Run) -> None:
    root = with_statement(make_study, ARABIC)
    (root / "questionnaires/items.yaml").write_text(
        (root / "questionnaires/items.yaml").read_text().replace(
            "text: First statement", f"text: \"{GREEK_CYRILLIC_HEBREW}\""))
    result = cli("new-round", "--study", str(root), "--workers", "1")
    assert result.exit_code == 0, result.stderr
    assert "on its own" not in result.stdout
    result = cli("preview", "E1", "--study", str(root))
    assert result.exit_code == 0, result.stderr
    html = (root / "rounds/round-1/preview/E1.html").read_text()
    assert f'<span dir="rtl">{ARABIC}</span>' in html
    assert f'<span dir="ltr">{GREEK_CYRILLIC_HEBREW}</span>' in html
    assert '<html lang="en" dir="ltr">' in html
    text = pypdf.PdfReader(root / "rounds/round-1/questionnaires/E1.pdf").pages[0].extract_text()
    for word in ("Ελληνικά", "Русский"):
        assert word in text
    # Arabic letters are shaped (joined forms); their text is still the statement's letters.
    letters = {c for c in unicodedata.normalize("NFKC", text) if "\u0600" <= c <= "\u06ff"}
    assert letters >= set(ARABIC.replace(" ", ""))


def test_a_right_to_left_language_sets_the_documents_direction(make_study: Make) -> None:
    from delphi.actions import questionnaire_context
    from delphi.render.pdf import Renderer

    root = with_statement(make_study, "Second statement", **{"locale/he.po": '''\
msgid ""
msgstr ""
"Content-Type: text/plain; charset=utf-8\\n"

msgid "Your code"
msgstr "הקוד שלך"
'''})
    with (root / "study.yaml").open("a") as handle:
        handle.write("language: he\n")
    from tests.conftest import write_manifest

    write_manifest(root)
    folder = Study(root)
    assert folder.language.rtl
    context, personals = questionnaire_context(folder, 1)
    html = Renderer(root, language=folder.language).html(context, personals[0])
    assert '<html lang="he" dir="rtl">' in html and "הקוד שלך" in html
    assert '<span dir="ltr">First statement</span>' in html  # Latin text keeps its direction


def uncovered() -> str:
    from delphi.render.fonts import covered_characters

    candidates = ["\U00013000", "\u16a0", "\u0f40", "\ua000", "\u4e2d"]  # hieroglyph, rune ...
    missing = [c for c in candidates if ord(c) not in covered_characters()]
    if not missing:
        pytest.skip("every candidate character has an installed font here")
    return missing[0]


def test_a_character_no_font_has_is_refused_before_any_pdf(make_study: Make, cli: Run) -> None:
    char = uncovered()
    root = with_statement(make_study, f"A statement with {char} in it")
    result = cli("new-round", "--study", str(root), "--workers", "1")
    assert result.exit_code == 2
    assert (f"the round-1 questionnaire: item 1.2: no installed font can print {char!r} "
            f"(U+{ord(char):04X} ") in result.stderr
    assert "apt-get install fonts-noto-core" in result.stderr
    assert not (root / "rounds").exists() or not list((root / "rounds").rglob("*.pdf"))


def test_font_coverage_without_fontconfig_tools(monkeypatch: pytest.MonkeyPatch) -> None:
    from delphi.render import fonts

    if not any(Path(d).expanduser().is_dir() for d in fonts.FONT_DIRS):
        pytest.skip("no font folder to read")
    monkeypatch.setattr(fonts.shutil, "which", lambda name: None)
    assert fonts._from_fontconfig() is None
    covered = fonts._from_font_files()
    assert {ord("A"), ord("é"), ord("€")} <= covered


def test_the_web_questionnaire_in_french(make_study: Make) -> None:
    pytest.importorskip("starlette")
    from starlette.testclient import TestClient

    from delphi.actions import compute_round, links
    from delphi.core.rounds import plan_round
    from delphi.web.app import create_app
    from tests.test_web import ROUND_1

    root = make_study(returns=ROUND_1)
    with (root / "study.yaml").open("a") as handle:
        handle.write("language: fr\n")
    folder = Study(root)
    plan = plan_round(folder.settings, folder.bank, folder.roster, 2, [compute_round(folder, 1)])
    folder.write_manifest(plan.manifest)
    token = links(root).links["E1"].rsplit("/", 1)[1]
    client = TestClient(create_app(root), follow_redirects=False)
    page = client.get(f"/q/{token}")
    assert page.status_code == 200
    assert '<html lang="fr" dir="ltr">' in page.text
    assert_no_english(visible_text(page.text), root, "fr", "web questionnaire")
    assert "Réponse du groupe (médiane)" in page.text and "8,0" in page.text
    missing = client.get("/q/" + "x" * 40)
    assert missing.status_code == 404 and "Page introuvable" in missing.text
    assert_no_english(visible_text(missing.text), root, "fr", "404 page")
