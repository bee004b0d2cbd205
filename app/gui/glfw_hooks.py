"""What hello_imgui does not expose, taken from the GLFW library imgui-bundle itself loads (through ctypes):

- file drops on the window (glfwSetDropCallback): dropped paths are queued for the app;
- waking the event loop from another thread (glfwPostEmptyEvent), so a frame rendered while the UI is
  idling is shown at once instead of at the next idle tick.

Both degrade to nothing when the platform backend is not GLFW or the library cannot be found.
"""

from __future__ import annotations

import ctypes
import sys
import threading
from pathlib import Path

import imgui_bundle
from imgui_bundle import hello_imgui

_LIB_NAMES = {"linux": "libglfw.so.3", "darwin": "libglfw.3.dylib", "win32": "glfw3.dll"}
_DROPFUN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(ctypes.c_char_p))


def _bundled_glfw() -> ctypes.CDLL | None:
    name = _LIB_NAMES.get(sys.platform)
    path = Path(imgui_bundle.__file__).parent / name if name else None
    if path is None or not path.exists():
        return None
    try:
        return ctypes.CDLL(str(path))  # already loaded by imgui-bundle: the same library and GLFW state
    except OSError:
        return None


class GlfwHooks:
    def __init__(self) -> None:
        self._lib: ctypes.CDLL | None = None
        self._drop_cb = None  # the ctypes callback must outlive the window
        self._lock = threading.Lock()
        self._dropped: list[str] = []
        self.drops_supported = False

    def install(self) -> None:
        """Call once the window exists (hello_imgui's post_init)."""
        try:
            window = hello_imgui.get_glfw_window_address()
        except Exception:  # not the GLFW backend
            return
        lib = _bundled_glfw()
        if lib is None or not window:
            return
        lib.glfwSetDropCallback.restype = ctypes.c_void_p
        lib.glfwSetDropCallback.argtypes = [ctypes.c_void_p, _DROPFUN]
        lib.glfwPostEmptyEvent.restype = None
        lib.glfwPostEmptyEvent.argtypes = []
        self._drop_cb = _DROPFUN(self._on_drop)
        lib.glfwSetDropCallback(ctypes.c_void_p(window), self._drop_cb)
        self._lib = lib
        self.drops_supported = True

    def uninstall(self) -> None:
        self._lib = None  # stop waking a window that is going away

    def _on_drop(self, _window, count: int, paths) -> None:
        names = [paths[i].decode("utf-8", "replace") for i in range(count)]
        with self._lock:
            self._dropped.extend(names)

    def take_dropped(self) -> list[str]:
        with self._lock:
            out, self._dropped = self._dropped, []
        return out

    def inject_drop(self, paths: list[str]) -> None:
        """What a drop from the desktop does (tests use it: Xvfb has no drag source)."""
        with self._lock:
            self._dropped.extend(paths)

    def wake(self) -> None:
        """Thread-safe: make the UI loop run a frame now."""
        lib = self._lib
        if lib is not None:
            lib.glfwPostEmptyEvent()
