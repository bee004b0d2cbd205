"""Thin wrappers over imgui-bundle: colours and text helpers (style.py; push/pop scopes are imgui_ctx's), a
Layout derived from the font size, persistent GL textures, an imgui-drawn file dialog (tests can drive it), and
GLFW hooks (file drops, wake-up)."""
