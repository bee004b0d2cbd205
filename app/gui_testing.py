"""Run GUI scenarios inside the real app with the imgui test engine (`sgv-studio --gui-test FILE`).

FILE is a Python file with `register(harness)`; it calls `harness.add(name, fn)` for each scenario, and
`fn(ctx, harness)` drives the app by widget labels (ctx.item_click("//Timeline/Play"), ...) and records
what it saw with `harness.record(name, key=value)`. When every scenario has finished the app writes a
JSON report (per scenario: ok, error, seconds, recorded data; the order they ran in; the app's final state)
and exits. SGV_TEST_ORDER=reverse runs them in the reverse of their registration order: scenarios must not
depend on each other's state.
Pytest (tests/test_app_gui.py) starts the app under Xvfb and asserts on that report.
"""

from __future__ import annotations

import importlib.util
import json
import os
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from imgui_bundle import hello_imgui, imgui

te = imgui.test_engine


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    return x


class GuiTestHarness:
    def __init__(self, app, script: str, report: str | None):
        self.app = app
        self.script = Path(script)
        self.report_path = Path(report) if report else None
        self.results: dict[str, dict] = {}
        self._tests: list[tuple[str, Any]] = []
        self._pending = 0
        self._written = False
        self.order: list[str] = []
        self.started = time.perf_counter()

    def install(self) -> None:
        rp = self.app.runner_params
        rp.use_imgui_test_engine = True
        rp.callbacks.register_tests = self._register
        self.app.after_frame.append(self._after_frame)

    # -- scenario API ------------------------------------------------------------------------------------
    def add(self, name: str, fn: Callable) -> None:
        engine = hello_imgui.get_imgui_test_engine()
        test = te.register_test(engine, "sgv-studio", name)
        self.results[name] = {"ok": False, "error": "did not run", "seconds": 0.0, "data": {}}

        def run(ctx) -> None:
            t0 = time.perf_counter()
            result = self.results[name]
            result["error"] = None
            try:
                fn(ctx, self)
                if ctx.is_error():
                    result["error"] = "test engine error (see log)"
            except BaseException as e:  # recorded, not raised: the engine's coroutine must keep running
                result["error"] = f"{type(e).__name__}: {e}\n{traceback.format_exc()}"
            finally:
                result["ok"] = result["error"] is None
                result["seconds"] = time.perf_counter() - t0
                self._pending -= 1

        test.test_func = run
        self._tests.append((name, test))
        self._pending += 1

    def record(self, name: str, **data: Any) -> None:
        self.results[name]["data"].update(_jsonable(data))

    def wait_until(self, ctx, predicate: Callable[[], bool], timeout_s: float = 20.0, what: str = "") -> float:
        """Yield UI frames until predicate() holds; returns seconds waited. Raises TimeoutError."""
        t0 = time.perf_counter()
        while not predicate():
            if time.perf_counter() - t0 > timeout_s:
                raise TimeoutError(f"timed out after {timeout_s:g} s waiting for {what or predicate}")
            ctx.yield_()
        return time.perf_counter() - t0

    # -- plumbing ----------------------------------------------------------------------------------------
    def _register(self) -> None:
        engine = hello_imgui.get_imgui_test_engine()
        io = te.get_io(engine)
        io.config_run_speed = te.TestRunSpeed.fast
        io.config_log_to_tty = True
        io.config_saved_settings = False
        # The engine kills a test after 60 s by default; scenarios bound their own waits (wait_until timeouts,
        # up to a few minutes for a training run on a loaded machine), and pytest bounds the whole launch.
        io.config_watchdog_warning = 60.0
        io.config_watchdog_kill_test = 600.0
        spec = importlib.util.spec_from_file_location("sgv_gui_scenarios", self.script)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        module.register(self)
        order = os.environ.get("SGV_TEST_ORDER", "")
        if order not in ("", "reverse"):
            raise ValueError(f"SGV_TEST_ORDER must be 'reverse' or unset, got '{order}'")
        queue = self._tests[::-1] if order == "reverse" else self._tests
        for _, test in queue:
            te.queue_test(engine, test)
        self.order = [name for name, _ in queue]

    def _after_frame(self) -> None:
        if self._written or not self._tests or self._pending > 0:
            return
        engine = hello_imgui.get_imgui_test_engine()
        if not te.is_test_queue_empty(engine):
            return
        for name, test in self._tests:
            status = test.output.status
            self.results[name]["engine_status"] = status.name
            self.results[name]["log"] = test.output.log.get_text()[-3000:]
            if status == te.TestStatus.error:
                self.results[name]["ok"] = False
                log = test.output.log.get_text()
                self.results[name]["error"] = (self.results[name]["error"] or "test engine error") + "\n" + log[-4000:]
        self._written = True
        report = {
            "tests": self.results,
            "order": self.order,
            "state": self.app.dump_state(),
            "seconds": time.perf_counter() - self.started,
        }
        if self.report_path is not None:
            self.report_path.write_text(json.dumps(_jsonable(report), indent=1))
        self.app.request_exit()
