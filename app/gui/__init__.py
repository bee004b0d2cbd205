"""Thin wrappers over imgui-bundle: scoped ids/styles with try/finally, a Layout derived from the font size,
persistent GL textures, an imgui-drawn file dialog (tests can drive it), and GLFW hooks (file drops, wake-up)."""
