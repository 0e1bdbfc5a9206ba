"""The screenshot command (``python -m scripts.screenshots``) on two pages, so CI proves it still works without
regenerating every picture: the files come out, at the asked width, dark darker than light, and small."""
from __future__ import annotations

import re
from pathlib import Path

from conftest import unavailable
from PIL import Image, ImageStat

from scripts import screenshots

ROOT = Path(__file__).resolve().parent.parent


def brightness(path: Path) -> float:
    with Image.open(path) as image:
        return ImageStat.Stat(image.convert("L")).mean[0]


def test_an_unknown_page_name_is_a_clear_error(capsys):
    assert screenshots.main(["--only", "login,nope"]) == 1
    error = capsys.readouterr().err
    assert "unknown page(s) nope" in error and "history" in error


def test_two_pages_at_the_phone_width_in_both_schemes(tmp_path):
    if not Path(screenshots.CHROMIUM).exists():
        unavailable(f"no Chromium at {screenshots.CHROMIUM} (apt-get install chromium)")
    written = screenshots.run(tmp_path, ["login", "history"], widths=(390,))
    names = sorted(path.name for path in written)
    assert names == sorted(f"{page}-390-{scheme}.png" for page in ("login", "history") for scheme in ("light", "dark"))
    for page in ("login", "history"):
        light, dark = tmp_path / f"{page}-390-light.png", tmp_path / f"{page}-390-dark.png"
        for path in (light, dark):
            with Image.open(path) as image:
                assert image.width == 390 and image.height >= 844
            assert path.stat().st_size < 400_000
        assert brightness(dark) < 80 < 180 < brightness(light), page


def test_the_readme_shows_pictures_the_command_makes():
    names = {f"{shot.name}-{width}-{scheme}.png" for shot in screenshots.shots(screenshots.Demo("", "", ""))
             for width in screenshots.WIDTHS for scheme in screenshots.SCHEMES}
    linked = re.findall(r"docs/screenshots/([\w.-]+\.png)", (ROOT / "README.md").read_text())
    assert len(linked) >= 6
    for name in linked:
        assert name in names, f"README links {name}, which python -m scripts.screenshots does not make"
        assert (ROOT / "docs" / "screenshots" / name).is_file(), name
