"""What can be wrong with a task's data, said with the file, the row and the reason."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

# A 600 dpi A4 scan is 35 M pixels; anything far beyond is a decompression bomb or a mistake.
DEFAULT_MAX_IMAGE_PIXELS = 60_000_000
# How many problems an error message lists before it says "and N more".
SHOWN_PROBLEMS = 50


@dataclass(frozen=True)
class Problem:
    where: str  # the file, and the row or line inside it
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


class TaskError(ValueError):
    """A task spec or its data cannot be used; lists every problem with its file and reason."""

    def __init__(self, headline: str, problems: list[Problem] = (), hint: str = ""):
        self.headline = headline
        self.problems = list(problems)
        lines = [headline] + [f"  {p}" for p in self.problems[:SHOWN_PROBLEMS]]
        if len(self.problems) > SHOWN_PROBLEMS:
            lines.append(f"  ... and {len(self.problems) - SHOWN_PROBLEMS} more")
        if hint:
            lines.append(hint)
        super().__init__("\n".join(lines))


def image_problem(image: str | Path | bytes, max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> str | None:
    """Why `image` (a file path or encoded bytes) cannot be used as a sample, or None if it can."""
    if isinstance(image, (str, Path)):
        path = Path(image)
        if not path.is_file():
            return "image file not found"
        if path.stat().st_size == 0:
            return "empty image file (0 bytes)"
        source = path
    elif not image:
        return "empty image (0 bytes)"
    else:
        source = io.BytesIO(image)
    try:
        with Image.open(source) as im:
            width, height = im.size
            if width == 0 or height == 0:
                return f"zero-size image ({width}x{height})"
            if width * height > max_pixels:
                return _too_large(width, height, max_pixels)
            im.load()  # decodes every byte: finds truncated and corrupt files
    except Image.DecompressionBombError as err:
        return f"image too large to decode safely ({err})"
    except UnidentifiedImageError:
        size = _png_header_size(image if isinstance(image, bytes) else Path(image).read_bytes()[:24])
        if size and 0 in size:
            return f"zero-size image ({size[0]}x{size[1]})"
        return "not a readable image (unknown or corrupt format)"
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        return f"corrupt or truncated image ({err})"
    return None


def _png_header_size(head: bytes) -> tuple[int, int] | None:
    # Pillow refuses to identify a PNG whose header says 0 pixels wide or high; say so plainly.
    if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
        return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    return None


def _too_large(width: int, height: int, max_pixels: int) -> str:
    return (
        f"image too large ({width}x{height} = {width * height:,} pixels, limit {max_pixels:,}); "
        "raise max_image_pixels in the spec if it is genuine"
    )


def text_problem(text: object) -> str | None:
    """Why `text` cannot be a transcription, or None if it can."""
    if text is None:
        return "no transcription"
    if not isinstance(text, str):
        return f"transcription is not text but {type(text).__name__} ({text!r:.40})"
    if not text.strip():
        return "empty transcription (only whitespace)" if text else "empty transcription"
    if "\ufffd" in text:
        return "transcription contains U+FFFD (text that was decoded with errors)"
    return None
