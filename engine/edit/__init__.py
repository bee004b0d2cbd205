"""Projection (image → content codes) and CLIP text editing of content codes.

See README "Projection and text editing"."""
