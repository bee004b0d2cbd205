"""The app at rest uses (almost) no CPU: paused, no input, nothing rendering. A GUI test under Xvfb.

The app is brought to rest by tests/gui/idle_scenarios.py (model, frame, directions and thumbnails on
screen, renderer idle), then this test reads the app process's CPU time (all its threads: the UI, the
renderer, Mesa's llvmpipe rasteriser threads) over an idle window. CPU time, not wall time, so a loaded
machine does not change what is measured. Goal: under 5 % of one core.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest
from gui_fixtures import app_command, app_env

pytestmark = pytest.mark.gui
SETTLE_S = 4.0  # hello_imgui keeps full speed for 3 s after the last input event (the test engine's)
WINDOW_S = 10.0
MAX_CORE_FRACTION = 0.05


def _app_process(root):
    import psutil

    for p in psutil.Process(root).children(recursive=True):
        try:
            if "app.main" in " ".join(p.cmdline()):
                return p
        except psutil.NoSuchProcess:
            continue
    return None


def test_idle_app_uses_under_5_percent_of_a_core(tmp_path, tiny_model_file):
    pytest.importorskip("psutil")
    report = tmp_path / "report.json"
    env = app_env(tmp_path, SGV_IDLE_LINGER_S="120")
    cmd = app_command("idle_scenarios.py", tiny_model_file, report)  # skips without xvfb-run
    proc = subprocess.Popen(
        cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 240
        while not report.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        if not report.exists():
            proc.kill()
            raise AssertionError(f"the app wrote no report (exit {proc.poll()}):\n{proc.stderr.read()[-4000:]}")
        time.sleep(0.5)  # the report is written before the file is closed
        result = json.loads(report.read_text())["tests"]["settle"]
        assert result["ok"], result["error"]
        app = _app_process(proc.pid)
        assert app is not None, "cannot find the app's process"
        time.sleep(SETTLE_S)
        c0, w0 = app.cpu_times(), time.perf_counter()
        time.sleep(WINDOW_S)
        c1, w1 = app.cpu_times(), time.perf_counter()
        assert app.is_running(), "the app must still be open at the end of the window"
        used = (c1.user + c1.system) - (c0.user + c0.system)
        fraction = used / (w1 - w0)
        print(f"idle app: {used * 1000:.0f} ms CPU in {w1 - w0:.1f} s = {100 * fraction:.1f} % of a core")
        assert fraction < MAX_CORE_FRACTION, f"idle app used {100 * fraction:.1f} % of a core"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
