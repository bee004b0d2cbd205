"""Helpers the GUI scenario files share (the app loads each scenario file by path, so they import this module
after putting tests/gui/ on sys.path)."""

from __future__ import annotations


def frame_matches(app) -> bool:
    """The shown frame answers the current request (t, content and motion)."""
    fr, s = app.view.frame, app.state
    if fr is None:
        return False
    r = fr.request
    return r.t == s.timeline.t and r.content == s.content and r.motion == s.motion
