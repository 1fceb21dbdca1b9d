"""Render one text line to a grayscale image, shaped correctly, then degrade it like a scan."""

from __future__ import annotations

import functools
import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont, features

from tasks.languages import COMPLEX_SCRIPTS, Language

LEVELS = ("clean", "scanned", "degraded")
# Characters that need no glyph of their own (joiners, directional marks, spaces).
_INVISIBLE = {" ", "\u200c", "\u200d", "\u200e", "\u200f"}


class RenderError(RuntimeError):
    """The text cannot be rendered faithfully (no shaping engine, no font with its glyphs)."""


def package_font_dir() -> Path:
    import weblate_fonts

    return Path(weblate_fonts.__file__).parent / "static" / "weblate_fonts"


@functools.cache
def available_fonts(system_fonts: bool = False) -> tuple[str, ...]:
    """Font files to draw from: the pip-installed package always, system fonts on request.

    Package fonts alone keep generated data identical on every machine.
    """
    paths = sorted(str(p) for p in package_font_dir().rglob("*.ttf"))
    if system_fonts:
        for root in ("/usr/share/fonts", "/usr/local/share/fonts"):
            paths += sorted(str(p) for p in Path(root).rglob("*.[ot]tf"))
    # Italic monospace faces lack Cyrillic/Greek and add little; keep upright faces only.
    return tuple(p for p in paths if "It." not in Path(p).name and "Oblique" not in p)


@functools.cache
def font_charset(path: str) -> frozenset[int]:
    from fontTools.ttLib import TTFont

    return frozenset(TTFont(path, lazy=True).getBestCmap() or {})


def fonts_covering(text: str, fonts: tuple[str, ...]) -> list[str]:
    """Fonts (from `fonts`) that have a glyph for every visible character of `text`."""
    needed = {ord(c) for c in text if c not in _INVISIBLE}
    return [f for f in fonts if needed <= font_charset(f)]


def check_shaping(language: Language) -> None:
    """Refuse complex scripts when Pillow has no raqm: they would render as garbage."""
    if language.script in COMPLEX_SCRIPTS and not features.check("raqm"):
        raise RenderError(
            f"{language.name} ({language.code}) needs text shaping, but Pillow was built without "
            "raqm (libraqm + libfribidi). Install the 'libfribidi0' system package and a Pillow "
            "wheel with raqm support; refusing to render unshaped text."
        )


@functools.lru_cache(maxsize=256)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    engine = ImageFont.Layout.RAQM if features.check("raqm") else ImageFont.Layout.BASIC
    return ImageFont.truetype(path, size, layout_engine=engine)


def render_line(
    text: str, language: Language, font_path: str, size: int, rng: np.random.Generator
) -> Image.Image:
    """Draw `text` black on white with margins; returns a grayscale ("L") image."""
    check_shaping(language)
    font = _font(font_path, size)
    kwargs = {"direction": "rtl"} if language.rtl else {}
    if features.check("raqm"):
        kwargs["language"] = language.code
    left, top, right, bottom = font.getbbox(text, **kwargs)
    mx, my = int(rng.integers(3, 12)), int(rng.integers(2, 7))
    width, height = right - left + 2 * mx, bottom - top + 2 * my
    image = Image.new("L", (max(width, 8), max(height, 8)), 255)
    ImageDraw.Draw(image).text((mx - left, my - top), text, font=font, fill=0, **kwargs)
    return image


def degrade(image: Image.Image, level: str, rng: np.random.Generator) -> Image.Image:
    """Make a clean render look scanned: paper and ink tone, skew, blur, noise, resolution, JPEG."""
    if level not in LEVELS:
        raise ValueError(f"unknown degradation level {level!r}; choose one of {', '.join(LEVELS)}")
    if level == "clean":
        return image
    hard = level == "degraded"
    arr = np.asarray(image, dtype=np.float32) / 255.0  # 1 = paper, 0 = ink
    paper = rng.uniform(0.72, 0.92) if hard else rng.uniform(0.85, 1.0)
    ink = rng.uniform(0.1, 0.4) if hard else rng.uniform(0.0, 0.2)
    arr = ink + (paper - ink) * arr
    if hard:  # uneven paper: a smooth low-frequency stain field
        h, w = arr.shape
        coarse = rng.normal(0, 0.06, size=(max(h // 8, 2), max(w // 8, 2))).astype(np.float32)
        stain = Image.fromarray(coarse, mode="F").resize((w, h), Image.BICUBIC)
        arr = arr + np.asarray(stain)
    image = Image.fromarray(np.clip(arr * 255, 0, 255).astype(np.uint8), mode="L")
    angle = rng.uniform(-3, 3) if hard else rng.uniform(-0.8, 0.8)
    fill = int(paper * 255)
    image = image.rotate(angle, resample=Image.BILINEAR, expand=True, fillcolor=fill)
    radius = rng.uniform(0.6, 1.3) if hard else rng.uniform(0.0, 0.6)
    if radius > 0.05:
        image = image.filter(ImageFilter.GaussianBlur(radius))
    if hard:  # lose resolution, then come back up: the blocky look of a low-dpi scan
        w, h = image.size
        factor = rng.uniform(0.5, 0.75)
        small = image.resize((max(int(w * factor), 1), max(int(h * factor), 1)), Image.BILINEAR)
        image = small.resize((w, h), Image.BILINEAR)
    sigma = rng.uniform(8, 20) if hard else rng.uniform(2, 7)
    noisy = np.asarray(image, dtype=np.float32) + rng.normal(0, sigma, size=image.size[::-1])
    image = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8), mode="L")
    buffer = io.BytesIO()
    quality = int(rng.integers(20, 50)) if hard else int(rng.integers(55, 90))
    image.save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    return Image.open(buffer).convert("L")
