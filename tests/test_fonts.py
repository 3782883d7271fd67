"""The article's Chinese terms show everywhere: static/fonts/article-terms.woff2, the app's fallback
font after Source Sans, has a glyph for every CJK character of the app's text (static/README.md)."""
import re
import tomllib
from pathlib import Path

from PIL import ImageFont

ROOT = Path(__file__).resolve().parent.parent
FONT = ROOT / "static" / "fonts" / "article-terms.woff2"
CJK = re.compile("[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]")


def app_cjk_characters() -> set[str]:
    sources = [*(ROOT / "ui").rglob("*.py"), *(ROOT / "views").glob("*.py"), ROOT / "app.py"]
    return {c for path in sources for c in CJK.findall(path.read_text(encoding="utf-8"))}


def has_glyph(font: ImageFont.FreeTypeFont, character: str) -> bool:
    return font.getmask(character).getbbox() is not None  # a missing glyph draws nothing


def test_the_bundled_font_draws_every_chinese_character_the_app_shows():
    font = ImageFont.truetype(str(FONT), 32)
    characters = app_cjk_characters()
    assert len(characters) >= 30  # the tour's terms, at least
    assert sorted(c for c in characters if not has_glyph(font, c)) == []
    assert not has_glyph(font, "龍")  # the check can fail: a character the subset leaves out


def test_the_theme_falls_back_to_it_after_source_sans_and_serves_it_from_here():
    theme = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["theme"]
    assert [name.strip() for name in theme["font"].split(",")] == ["Source Sans", "article-terms"]
    assert theme["fontFaces"] == [{"family": "article-terms", "url": "app/static/fonts/article-terms.woff2",
                                   "unicodeRange": "U+2E80-9FFF, U+F900-FAFF, U+FF00-FFEF"}]
    assert all(CJK.fullmatch(c) for c in "\u2e80\u9fff\uf900\ufaff\uff00\uffef")  # the same range as the check


def test_the_font_ships_with_its_notice_and_license():
    notice = (ROOT / "static" / "fonts" / "OFL.txt").read_text()
    assert "Copyright 2014-2021 Adobe (http://www.adobe.com/), with Reserved Font Name 'Source'." in notice
    assert notice.count("SIL OPEN FONT LICENSE Version 1.1") == 1
