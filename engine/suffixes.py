"""The file-name suffixes sgv recognises, in one place (lower case, with the dot).

Reading is wider than writing: any container ffmpeg decodes is a training video, but sgv writes only the five
containers in VIDEO_EXTS. Frames of a dataset are IMAGE_EXTS (PNG, JPEG and WebP; Pillow decodes all three, and
`sgv dataset prepare` writes jpg or png); a single picture to project may also be BMP, GIF or TIFF.
"""

from __future__ import annotations

VIDEO_EXTS = (".mp4", ".mov", ".mkv", ".webm", ".avi")  # what sgv writes; .mp4 (H.264, yuv420p) is the default
READ_VIDEO_EXTS = (
    *VIDEO_EXTS,
    *(".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".gif"),
    *(".ts", ".mts", ".m2ts", ".3gp", ".ogv", ".vob", ".mxf"),
)  # what a folder of training videos may hold
IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".webp")  # frame files of a dataset or a frame folder
PICTURE_EXTS = (*IMAGE_EXTS, ".bmp", ".gif", ".tif", ".tiff")  # one image to project or to use as a mask
MODEL_EXTS = (".safetensors", ".pkl", ".pickle")  # model files; upstream pickles are imported on the fly
