"""The HTML pages (render/html.py), read as a person reads them: in a real browser.

Headless Chromium (Debian's ``chromium``, installed by ``make test``) driven by Playwright
for Python, from file:// URLs: no console error, no network request, the region's runs,
typing a size, the page's decisions against graphshape's own on every edge point, the
index's filter and sort, and screenshots under .cache/html-report/ for a person to look at.
Where no browser can be started the browser tests are skipped, saying why; the rest (the
file is self-contained, the CLI writes it) always runs.
"""

from __future__ import annotations

import os
import re

import pytest
from click.testing import CliRunner

import graphshape
from graphshape.answers.fit import fit
from graphshape.cli import main
from graphshape.render import html
from graphshape.render.plot import region
from graphshape.results import Verdict
from models import registry

from .conftest import ROOT, text_model

CHROMIUM = os.environ.get("GRAPHSHAPE_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHOTS = os.path.join(ROOT, ".cache", "html-report")
# any N; H, W >= k (a k x k window without padding)
WINDOW = """<ir_version: 8, opset_import: ["" : 17]>
g (float[N,3,H,W] x) => (float[N,3,a,b] y) {
    y = MaxPool <kernel_shape = [%d, %d]> (x)
}"""


@pytest.fixture(scope="module")
def toy(toy_path):
    return graphshape.analyze(toy_path)


@pytest.fixture(scope="module")
def unet(model_cache):
    return graphshape.analyze(registry.build("unet_ts", model_cache))


@pytest.fixture(scope="module")
def pages(tmp_path_factory, toy, unet):
    d = tmp_path_factory.mktemp("pages")
    out = {}
    for name, a in (("toy", toy), ("unet", unet)):
        p = d / f"{name}.html"
        p.write_text(html.page(a, model_arg=f"{name}.onnx"), encoding="utf-8")
        out[name] = str(p)
    return out


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed: pip install -e '.[test]' (make test does)")
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium chromium-driver "
                    "(make test does where it can), or set GRAPHSHAPE_CHROMIUM")
    with sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        except Exception as e:  # noqa: BLE001  a browser that cannot start is a skip, said why
            pytest.skip(f"Chromium at {CHROMIUM} does not start: {str(e).splitlines()[0]}")
        yield b
        b.close()


def _open(browser, path, scheme="light", js=True):
    """The page from file://, with every request and console message it makes."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme=scheme,
                              java_script_enabled=js)
    pg = ctx.new_page()
    seen = {"requests": [], "console": []}
    pg.on("request", lambda r: seen["requests"].append(r.url))
    pg.on("console", lambda m: seen["console"].append(f"{m.type}: {m.text}"))
    pg.on("pageerror", lambda e: seen["console"].append(f"pageerror: {e}"))
    pg.goto("file://" + path)
    return pg, seen


def _shot(pg, name):
    os.makedirs(SHOTS, exist_ok=True)
    pg.screenshot(path=os.path.join(SHOTS, name), full_page=True)


# ---- the file alone (no browser) -------------------------------------------------------


def test_the_page_is_one_file_with_nothing_to_fetch(pages):
    text = open(pages["toy"], encoding="utf-8").read()
    assert text.startswith("<!DOCTYPE html>")
    # the SVG namespace is a name, not a request; nothing else points outside the file
    urls = set(re.findall(r"(?:https?:)?//[\w.-]+\.\w+[^\s\"'<>)]*", text))
    assert urls <= {"http://www.w3.org/2000/svg"}, urls
    assert not re.search(r"<link\b|@import|url\(|\bsrc=", text)
    assert "default-src 'none'" in text


def test_report_command_and_analyze_format_html(toy_path, tmp_path):
    out = tmp_path / "toy.html"
    r = CliRunner().invoke(main, ["report", toy_path, "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert r.output.startswith(f"wrote {out}: Accepts H in 251..258, W in 251..258")
    assert "probably built for 256 × 256" in r.output
    assert out.read_text().count('class="run"') == 11
    r = CliRunner().invoke(main, ["analyze", toy_path, "--format", "html"])
    assert r.exit_code == 0 and r.output.startswith("<!DOCTYPE html>")
    r = CliRunner().invoke(main, ["report", toy_path, "--size", "H=3", "-o", str(out)])
    assert r.exit_code == 2 and "no size given for W" in r.output


def test_the_sentence_says_what_the_toy_accepts(toy, unet):
    s = html.verdict_sentence(toy)
    assert s.startswith("Accepts H in 251..258, W in 251..258 and ten other boxes; every "
                        "bound comes from Gemm '/head/head.0/Gemm'")
    assert html.verdict_sentence(unet).startswith("Accepts any N; H = 16k, k >= 1; W = 16k")


# ---- in the browser ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["toy", "unet"])
def test_loads_offline_without_errors_and_draws_every_run(browser, pages, name, toy, unet):
    a = {"toy": toy, "unet": unet}[name]
    pg, seen = _open(browser, pages[name])
    assert seen["console"] == []
    assert seen["requests"] == ["file://" + pages[name]]  # the page itself, nothing else
    want = len(region(a, held=html.page_held(a)).rects)
    assert pg.locator("svg.region rect.run").count() == want
    if name == "toy":
        assert want == 11
    _shot(pg, f"{name}.png")
    pg.close()
    pg, seen = _open(browser, pages[name], scheme="dark")
    assert seen["console"] == []
    _shot(pg, f"{name}-dark.png")
    pg.close()


def test_typing_300_by_300_on_the_toy(browser, pages, toy):
    pg, seen = _open(browser, pages["toy"])
    pg.fill('#probe-form input[name="H"]', "300")
    pg.fill('#probe-form input[name="W"]', "300")
    pg.click("#probe-form button")
    result = pg.locator("#probe-result")
    assert result.locator("[data-verdict]").inner_text() == "invalid"
    text = result.inner_text()
    assert "Gemm '/head/head.0/Gemm'" in text and "46208 != 32768" in text
    # the nearest valid sizes are fit's (pad impossible, crop to 258 x 258)
    py = {s.policy: s.sizes for s in fit(toy, {"H": 300, "W": 300}).suggestions}
    assert "crop to 258 × 258" in result.locator('[data-policy="crop"]').inner_text()
    assert py["crop"] == {"H": 258, "W": 258} and "pad" not in py
    assert "no pad" in result.locator('[data-policy="pad"]').inner_text()
    # the layer table: every shape at the typed size, the Gemm marked
    gemm = pg.locator('#layers tr[data-node="/head/head.0/Gemm"]')
    assert "fails" in gemm.get_attribute("class")
    flat = pg.locator('#layers tr[data-node="/Flatten"] td.at').inner_text()
    assert flat == "[1, 46208]"
    assert seen["console"] == []
    _shot(pg, "toy-300x300.png")
    pg.close()


def test_pointing_at_a_run_says_valid(browser, pages):
    pg, _ = _open(browser, pages["toy"])
    run = pg.locator('svg.region rect.run[data-x0="251"]')
    box = run.bounding_box()
    pg.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    tip = pg.locator("#tip")
    assert tip.is_visible()
    assert re.match(r"H=25\d, W=25\d: valid$", tip.inner_text()), tip.inner_text()
    pg.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    assert pg.locator("#probe-result [data-verdict]").inner_text() == "valid"
    pg.close()


@pytest.mark.parametrize("name", ["toy", "unet"])
def test_the_pages_decisions_are_graphshapes(browser, pages, name, toy, unet):
    """Every edge point, random members and non-members, and a grid: the page's verdict
    and first rejecting node against Domain.check / Analysis.explain."""
    a = {"toy": toy, "unet": unet}[name]
    d = a.domain
    pts = d.edges() + d.sample_members(20, seed=3) + d.sample_nonmembers(40, seed=3)
    pts += [{**{n: 1 for n in d.names}, **{"H": h, "W": w}} for h in (1, 15, 16, 17, 255, 256)
            for w in (1, 16, 32, 300, 8187)]
    pg, _ = _open(browser, pages[name])
    got = pg.evaluate("pts => pts.map(p => window.graphshapePage.decide(p))", pts)
    for p, g in zip(pts, got):
        verdict = d.check(p)
        assert g["verdict"] == verdict.value, (p, g)
        if verdict is Verdict.INVALID:  # every violated condition, in explain's order
            assert g["nodes"] == [c.origins[0].node for c, _ in d.violations(p)], p
    reqs = [{**{n: 1 for n in d.names}, **{"H": h, "W": w}}
            for h, w in ((300, 300), (200, 200), (20, 5000), (100, 17))]
    near = pg.evaluate("rs => rs.map(r => window.graphshapePage.nearest(r))", reqs)
    for r, js in zip(reqs, near):
        res = fit(a, r, "pad")
        assert js["pad"] == (res.suggestions[0].sizes if res.suggestions else None), r
        res = fit(a, r, "crop")
        assert js["crop"] == (res.suggestions[0].sizes if res.suggestions else None), r
    pg.close()


def test_readable_without_javascript(browser, pages):
    pg, seen = _open(browser, pages["toy"], js=False)
    assert pg.locator("#verdict").inner_text().startswith("Accepts H in 251..258")
    assert pg.locator("svg.region rect.run").count() == 11
    assert pg.locator("#probe-result [data-verdict]").inner_text() == "valid"
    assert pg.locator('#layers tr[data-node="/Flatten"] td.at').inner_text() == "[1, 32768]"
    pg.close()


def test_an_audits_index_filters_and_sorts(browser, tmp_path, toy_path, model_cache):
    """A registry audited twice (`graphshape audit FOLDER --html OUT`): the second run's
    classifier lost sizes (a 5x5 window where a 3x3 was), a regression on top."""
    reg = tmp_path / "registry"
    reg.mkdir()
    (reg / "toy.onnx").write_bytes(open(toy_path, "rb").read())
    (reg / "unet.onnx").write_bytes(open(registry.build("unet_ts", model_cache), "rb").read())
    (reg / "broken.onnx").write_bytes(b"not a model")
    db, out = tmp_path / "audit.sqlite", tmp_path / "html"
    for k in (3, 5):
        text_model(WINDOW % (k, k), str(reg / "classifier.onnx"))
        r = CliRunner().invoke(main, ["audit", str(reg), "--db", str(db), "-q",
                                      "--html", str(out)])
        assert r.exit_code == 3, r.output  # the broken model is not analysed
    assert sorted(os.listdir(out / "models")) == ["classifier.html", "toy.html", "unet.html"]
    index = str(out / "index.html")
    pg, seen = _open(browser, index)
    assert seen["console"] == [] and seen["requests"] == ["file://" + index]
    visible = "table#models tbody tr:not([hidden])"
    assert pg.locator(visible).count() == 4
    first = pg.locator(visible).first
    assert first.get_attribute("class") == "regression"  # regressions on top
    assert first.locator("td").first.inner_text() == "classifier.onnx"
    assert "lost" in first.locator("td.change").inner_text()
    _shot(pg, "index.png")
    pg.select_option("#filter-status", "valid")
    names = pg.locator(f"{visible} td:first-child").all_inner_texts()
    assert sorted(names) == ["classifier.onnx", "toy.onnx", "unet.onnx"]
    pg.select_option("#filter-status", "error")
    assert pg.locator(f"{visible} td:first-child").all_inner_texts() == ["broken.onnx"]
    pg.select_option("#filter-status", "")
    pg.fill("#filter-text", "16k")
    assert pg.locator(f"{visible} td:first-child").all_inner_texts() == ["unet.onnx"]
    assert pg.locator("#shown").inner_text() == "1 of 4"
    pg.fill("#filter-text", "")
    pg.click("th:has-text('model')")
    assert pg.locator(f"{visible} td:first-child").all_inner_texts() == [
        "broken.onnx", "classifier.onnx", "toy.onnx", "unet.onnx"]
    pg.click("th:has-text('model')")
    assert pg.locator(f"{visible} td:first-child").first.inner_text() == "unet.onnx"
    # a model's page from the index: it loads offline too
    pg.click("a:has-text('toy.onnx')")
    assert pg.locator("svg.region rect.run").count() == 11
    assert seen["console"] == []
    assert all(u.startswith("file://" + str(out)) for u in seen["requests"])
    pg.close()
