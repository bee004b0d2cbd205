"""Optional dependency groups: a missing optional package is one line naming the extra to install."""

import sys

import pytest

from engine.extras import PACKAGES, MissingExtra, require


@pytest.fixture
def without(monkeypatch):
    def hide(module: str) -> None:
        for name in [m for m in sys.modules if m == module or m.startswith(module + ".")]:
            monkeypatch.delitem(sys.modules, name)
        monkeypatch.setitem(sys.modules, module, None)  # `import module` now fails as if it were not installed

    return hide


def test_require_names_the_extra(without):
    without("lpips")
    with pytest.raises(MissingExtra) as e:
        require("lpips", "the LPIPS image loss")
    msg = str(e.value)
    assert "\n" not in msg and 'pip install "sgv-studio[edit]"' in msg and "lpips" in msg
    assert {extra for _, extra in PACKAGES.values()} == {"app", "edit"}


def test_auto_loss_falls_back_without_lpips(without):
    from engine.edit.losses import make_image_loss

    without("lpips")
    loss = make_image_loss("auto")
    assert loss.fallback_reason and "sgv-studio[edit]" in loss.fallback_reason
    with pytest.raises(MissingExtra):
        make_image_loss("lpips")


def test_sgv_edit_without_open_clip_is_one_line(without, tmp_path, capsys):
    from engine.cli import main

    without("open_clip")
    rc = main(["edit", "--preset", "tiny", "--seed", "0", "--prompt", "a cat", "--out", str(tmp_path / "e")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and err[-1].startswith("sgv: CLIP editing needs the optional package open_clip_torch")
    assert "sgv-studio[edit]" in err[-1]


def test_studio_without_imgui_is_one_line(without, monkeypatch, capsys):
    from app.main import main

    monkeypatch.setenv("DISPLAY", ":1234")  # a display is named; the missing package is what stops it
    without("imgui_bundle")
    assert main([]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert (
        len(err) == 1
        and err[0] == 'sgv-studio: the app needs the optional package imgui-bundle: pip install "sgv-studio[app]"'
    )
