"""Running the real app under Xvfb for the GUI tests (tests/test_app_*gui.py): one launcher, one report reader.

A GUI test file builds its inputs, then `launch()`es the app once with a scenario file (tests/gui/*.py, run
by app/gui_testing.py) and checks each scenario's recorded data with `scenario()`. The tiny model is the
session's `tiny_model_file` (tests/conftest.py), shared by every file.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

GUI = Path(__file__).parent / "gui"
XVFB = shutil.which("xvfb-run")
SCREEN = "-screen 0 1600x1000x24"


def need_xvfb() -> str:
    if XVFB is None:
        pytest.skip("xvfb-run is not installed (apt-get install xvfb xauth); CI installs it")
    return XVFB


def app_env(tmp: Path, **extra: str) -> dict[str, str]:
    """The app's environment: config, caches and data under tmp (never the user's), software OpenGL."""
    env = dict(
        os.environ,
        XDG_CONFIG_HOME=str(tmp / "config"),
        XDG_CACHE_HOME=str(tmp / "cache"),
        XDG_DATA_HOME=str(tmp / "data"),
        SGV_TEST_TMP=str(tmp),
        LIBGL_ALWAYS_SOFTWARE="1",
    )
    env.update(extra)
    return env


def app_command(scenarios: str, model: Path, report: Path, args: Iterable[str] = ()) -> list[str]:
    cmd = [need_xvfb(), "-a", "-s", SCREEN, sys.executable, "-m", "app.main", "--ckpt", str(model)]
    return cmd + ["--device", "cpu", "--gui-test", str(GUI / scenarios), "--gui-test-report", str(report), *args]


def launch(
    scenarios: str,
    tmp: Path,
    model: Path,
    *,
    env: dict[str, str] | None = None,
    drop_env: Iterable[str] = (),
    args: Iterable[str] = (),
    timeout_s: float = 300,
    cleanup: Callable[[], None] | None = None,
) -> dict:
    """Run the app on `model` with tests/gui/<scenarios> under Xvfb, in tmp/cwd; return its JSON report plus
    what it left in the working and config folders, its stderr tail and tmp. `cleanup` runs however it ends."""
    cwd = tmp / "cwd"
    cwd.mkdir(parents=True, exist_ok=True)
    report = tmp / "report.json"
    full_env = app_env(tmp, **(env or {}))
    for name in drop_env:
        full_env.pop(name, None)
    cmd = app_command(scenarios, model, report, args)
    try:
        proc = subprocess.run(cmd, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout_s)
    finally:
        if cleanup is not None:
            cleanup()
    if not report.exists():
        raise AssertionError(
            f"the app wrote no report (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
        )
    data = json.loads(report.read_text())
    config = tmp / "config" / "sgv-studio"
    data["cwd_files"] = sorted(os.listdir(cwd))
    data["config_files"] = sorted(p.name for p in config.iterdir()) if config.is_dir() else []
    data["stderr"] = proc.stderr[-6000:]
    data["tmp"] = str(tmp)
    return data


def scenario(run: dict, name: str) -> dict:
    """One scenario's recorded data; fails with its error and the app's stderr if it did not pass."""
    result = run["tests"][name]
    assert result["ok"], f"scenario {name} failed: {result['error']}\nstderr:\n{run['stderr']}"
    return result["data"]
