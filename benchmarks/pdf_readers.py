"""Type a comment into a questionnaire with four PDF engines and show it with three.

A maintainers' check, not a test: it needs engines that are no dependency of delphi.

    python -m venv /tmp/engines && /tmp/engines/bin/pip install pymupdf pypdfium2 pypdf \
        pillow selenium
    (cd /tmp/pdfjs && npm install pdfjs-dist@5)          # pdf.js, run in Debian's chromium
    apt-get install poppler-utils chromium chromium-driver
    /tmp/engines/bin/python benchmarks/pdf_readers.py QUESTIONNAIRE.pdf --pdfjs /tmp/pdfjs

For each engine that fills (MuPDF, PDFium, pdf.js in Chromium) the script types the text into
``comment_1~1`` and saves; each saved file is read back with pypdf (what ``delphi import``
reads) and rendered by Poppler, MuPDF and PDFium. It prints a line per pair with the ink found
in the comment box and writes the boxes, one under another, to ``--sheet`` to be looked at.
"""

from __future__ import annotations

import argparse
import base64
import ctypes
import http.server
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

FIELD = "comment_1~1"
RADIO, CHOICE = "rating_1~1", 6  # the seventh button (rating 7) of item 1.1
TEXT = "Crème brûlée — Ελληνικά — Русский — العربية"
VIEWER = """<!doctype html><html><head><meta charset="utf-8">
<link rel="stylesheet" href="node_modules/pdfjs-dist/web/pdf_viewer.css">
<style>#c{position:absolute;inset:0;overflow:auto}</style></head>
<body><div id="c"><div id="viewer" class="pdfViewer"></div></div><script type="module">
import * as lib from "./node_modules/pdfjs-dist/build/pdf.mjs";
lib.GlobalWorkerOptions.workerSrc = "./node_modules/pdfjs-dist/build/pdf.worker.mjs";
const v = await import("./node_modules/pdfjs-dist/web/pdf_viewer.mjs");
const eventBus = new v.EventBus(), links = new v.PDFLinkService({eventBus});
const viewer = new v.PDFViewer({container: document.getElementById("c"), eventBus,
  linkService: links, annotationMode: lib.AnnotationMode.ENABLE_FORMS});
links.setViewer(viewer);
const doc = await lib.getDocument({url: "q.pdf",
  standardFontDataUrl: "./node_modules/pdfjs-dist/standard_fonts/"}).promise;
viewer.setDocument(doc); links.setDocument(doc);
eventBus.on("annotationlayerrendered", () => { window.ready = true; });
window.save = async () => { let s = ""; for (const b of await doc.saveDocument())
  s += String.fromCharCode(b); return btoa(s); };
</script></body></html>"""


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base's name)
        pass


def field_place(pdf: Path) -> tuple[int, tuple[float, float, float, float]]:
    """The page and rectangle (top-left origin, points) of the comment field."""
    import pymupdf

    for page in pymupdf.open(pdf):
        for widget in page.widgets():
            if widget.field_name == FIELD:
                r = widget.rect
                return page.number, (r.x0, r.y0, r.x1, r.y1)
    raise SystemExit(f"{pdf}: no field {FIELD}")


def radio_place(pdf: Path) -> tuple[float, float, float, float]:
    """The rectangle (top-left origin, points) of the button to choose."""
    import pymupdf

    for page in pymupdf.open(pdf):
        buttons = [w.rect for w in page.widgets() if w.field_name == RADIO]
        if buttons:
            r = buttons[CHOICE]
            return (r.x0, r.y0, r.x1, r.y1)
    raise SystemExit(f"{pdf}: no field {RADIO}")


def fill_mupdf(src: Path, out: Path, text: str) -> None:
    import pymupdf

    doc = pymupdf.open(src)
    for page in doc:
        buttons = 0
        for widget in page.widgets():
            if widget.field_name == FIELD:
                widget.field_value = text
                widget.update()
            elif widget.field_name == RADIO:
                if buttons == CHOICE:
                    widget.field_value = widget.on_state()
                    widget.update()
                buttons += 1
    doc.save(out)


def fill_pdfium(src: Path, out: Path, text: str) -> None:
    import pypdfium2 as pdfium
    import pypdfium2.raw as raw

    number, (x0, y0, x1, y1) = field_place(src)
    pdf = pdfium.PdfDocument(src)
    pdf.init_forms()
    page = pdf[number]
    env = pdf.formenv.raw
    height = page.get_height()
    raw.FORM_OnAfterLoadPage(page.raw, env)

    def click(x: float, y: float) -> None:
        raw.FORM_OnLButtonDown(env, page.raw, 0, x, height - y)
        raw.FORM_OnLButtonUp(env, page.raw, 0, x, height - y)

    click((x0 + x1) / 2, (y0 + y1) / 2)
    typed = ctypes.create_string_buffer(text.encode("utf-16-le") + b"\0\0")
    raw.FORM_ReplaceSelection(env, page.raw, ctypes.cast(typed, ctypes.POINTER(raw.FPDF_WCHAR)))
    raw.FORM_ForceToKillFocus(env)
    bx0, by0, bx1, by1 = radio_place(src)
    click((bx0 + bx1) / 2, (by0 + by1) / 2)
    pdf.save(out)


def fill_pdfjs(pdfjs: Path, src: Path, out: Path, text: str, screenshot: Path) -> None:
    """pdf.js's viewer in headless Chromium, typed into like a person would."""
    from selenium import webdriver
    from selenium.webdriver.common.by import By

    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp)
        (site / "node_modules").symlink_to(pdfjs / "node_modules")
        (site / "view.html").write_text(VIEWER, encoding="utf-8")
        shutil.copy(src, site / "q.pdf")
        handler = partial(_Quiet, directory=str(site))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update",
                     "--disable-sync", "--window-size=1000,1300"):
            options.add_argument(flag)
        driver = webdriver.Chrome(service=webdriver.ChromeService("/usr/bin/chromedriver"),
                                  options=options)
        try:
            driver.get(f"http://127.0.0.1:{server.server_port}/view.html")
            for _ in range(120):
                if driver.execute_script("return window.ready === true"):
                    break
                time.sleep(0.25)
            button = driver.find_elements(By.CSS_SELECTOR, f'input[name="{RADIO}"]')[CHOICE]
            driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", button)
            button.click()
            box = driver.find_element(By.CSS_SELECTOR, f'textarea[name="{FIELD}"]')
            driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", box)
            box.click()
            box.send_keys(text)
            driver.execute_script("arguments[0].blur()", box)
            driver.save_screenshot(str(screenshot))
            data = driver.execute_async_script("window.save().then(arguments[0])")
            out.write_bytes(base64.b64decode(data))
        finally:
            driver.quit()
            server.shutdown()


def show_poppler(pdf: Path, number: int, dpi: int) -> Any:
    from PIL import Image

    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["pdftoppm", "-png", "-r", str(dpi), "-f", str(number + 1), "-l",
                        str(number + 1), "-singlefile", str(pdf), f"{tmp}/page"], check=True)
        return Image.open(f"{tmp}/page.png").copy()


def show_mupdf(pdf: Path, number: int, dpi: int) -> Any:
    import pymupdf
    from PIL import Image

    pixmap = pymupdf.open(pdf)[number].get_pixmap(dpi=dpi)
    return Image.frombytes("RGB", (pixmap.width, pixmap.height), pixmap.samples)


def show_pdfium(pdf: Path, number: int, dpi: int) -> Any:
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(pdf)
    document.init_forms()
    return document[number].render(scale=dpi / 72, may_draw_forms=True).to_pil()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pdf", type=Path)
    parser.add_argument("--text", default=TEXT)
    parser.add_argument("--pdfjs", type=Path, help="a folder with node_modules/pdfjs-dist")
    parser.add_argument("--sheet", type=Path, default=Path("pdf-readers.png"))
    args = parser.parse_args()
    import pypdf
    from PIL import Image

    number, (x0, y0, x1, y1) = field_place(args.pdf)
    bx0, by0, bx1, by1 = radio_place(args.pdf)
    work = Path(tempfile.mkdtemp())
    fillers: dict[str, Callable[[Path], None]] = {
        "MuPDF": lambda out: fill_mupdf(args.pdf, out, args.text),
        "PDFium": lambda out: fill_pdfium(args.pdf, out, args.text),
    }
    if args.pdfjs:
        fillers["pdf.js"] = lambda out: fill_pdfjs(args.pdfjs, args.pdf, out, args.text,
                                                   args.sheet.with_suffix(".pdfjs.png"))
    viewers = {"Poppler": show_poppler, "MuPDF": show_mupdf, "PDFium": show_pdfium}
    crops = []
    dpi = 108
    for filler, fill in fillers.items():
        filled = work / f"{filler}.pdf"
        fill(filled)
        found = pypdf.PdfReader(filled).get_fields()
        value, rating = found[FIELD].get("/V"), found[RADIO].get("/V")
        for viewer, show in viewers.items():
            page = show(filled, number, dpi).convert("RGB")
            s = dpi / 72
            crop = page.crop((int(x0 * s) - 6, int(y0 * s) - 6, int(x1 * s) + 6, int(y1 * s) + 6))
            ink = sum(1 for level in crop.convert("L").get_flattened_data() if level < 128)
            dot = page.crop((int(bx0 * s), int(by0 * s), int(bx1 * s), int(by1 * s)))
            dot_ink = sum(1 for level in dot.convert("L").get_flattened_data() if level < 128)
            print(f"filled in {filler:7} shown by {viewer:8} comment ink {ink:5}, "
                  f"button ink {dot_ink:3}; read back: comment exact {value == args.text}, "
                  f"button {rating}")
            crops.append(page.crop((int(bx0 * s) - 30, int(by0 * s) - 6, int(x1 * s) + 6,
                                    int(y1 * s) + 6)))
    sheet = Image.new("RGB", (max(c.width for c in crops), sum(c.height for c in crops)), "white")
    top = 0
    for crop in crops:
        sheet.paste(crop, (0, top))
        top += crop.height
    sheet.save(args.sheet)
    print(f"Wrote {args.sheet}")


if __name__ == "__main__":
    main()
