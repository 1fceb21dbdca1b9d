"""Render text lines and pages to grayscale images, shaped correctly, then degrade them like scans."""

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
    # Italic and hairline faces add little but unreadable strokes once degraded.
    return tuple(
        p
        for p in paths
        if not any(word in Path(p).name for word in ("It.", "Italic", "Oblique", "ExtraLight", "Math"))
    )


def language_fonts(language: Language, system_fonts: bool = False) -> tuple[str, ...]:
    """The fonts a language's text may be drawn with (its registry prefixes, if any)."""
    fonts = available_fonts(system_fonts)
    if not language.fonts:
        return fonts
    return tuple(f for f in fonts if Path(f).name.startswith(language.fonts))


def resolve_font(name: str, base_dir: Path | None = None) -> Path | None:
    """A font given as a path (relative to `base_dir`) or as the file name of a package or system font."""
    path = Path(name).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    if path.is_file():
        return path.resolve()
    matches = [p for p in available_fonts(True) if Path(p).name == name]
    return Path(matches[0]) if matches else None


@functools.cache
def font_charset(path: str) -> frozenset[int]:
    from fontTools.ttLib import TTFont

    return frozenset(TTFont(path, lazy=True).getBestCmap() or {})


def fonts_covering(text: str, fonts: tuple[str, ...]) -> list[str]:
    """Fonts (from `fonts`) that have a glyph for every visible character of `text`."""
    needed = {ord(c) for c in text if c not in _INVISIBLE}
    return [f for f in fonts if needed <= font_charset(f)]


def check_shaping(language: Language) -> None:
    """Refuse complex and right-to-left scripts when Pillow has no raqm: they would render as
    isolated letters in the wrong order."""
    if (language.script in COMPLEX_SCRIPTS or language.rtl) and not features.check("raqm"):
        raise RenderError(
            f"{language.name} ({language.code}) needs text shaping, but Pillow was built without "
            "raqm (libraqm + libfribidi). Install the 'libfribidi0' system package and a Pillow "
            "wheel with raqm support; refusing to render unshaped text."
        )


@functools.lru_cache(maxsize=256)
def load_font(path: str, size: int) -> ImageFont.FreeTypeFont:
    engine = ImageFont.Layout.RAQM if features.check("raqm") else ImageFont.Layout.BASIC
    return ImageFont.truetype(path, size, layout_engine=engine)


def layout_options(language: Language) -> dict:
    kwargs = {"direction": "rtl"} if language.rtl else {}
    if features.check("raqm"):
        kwargs["language"] = language.code
    return kwargs


def render_line(
    text: str, language: Language, font_path: str, size: int, rng: np.random.Generator
) -> Image.Image:
    """Draw `text` black on white with margins; returns a grayscale ("L") image."""
    check_shaping(language)
    font = load_font(font_path, size)
    kwargs = layout_options(language)
    left, top, right, bottom = font.getbbox(text, **kwargs)
    mx, my = int(rng.integers(3, 12)), int(rng.integers(2, 7))
    width, height = right - left + 2 * mx, bottom - top + 2 * my
    image = Image.new("L", (max(width, 8), max(height, 8)), 255)
    ImageDraw.Draw(image).text((mx - left, my - top), text, font=font, fill=0, **kwargs)
    return image


def render_page(
    lines: list[str], language: Language, font_paths: list[str], size: int, rng: np.random.Generator
) -> Image.Image:
    """Draw `lines` as a page: one line under the other, aligned to the reading start
    (right for right-to-left scripts), the first line centred like a heading half the time."""
    check_shaping(language)
    kwargs = layout_options(language)
    fonts = [load_font(path, size) for path in font_paths]
    widths = [font.getlength(text, **kwargs) for text, font in zip(lines, fonts)]
    mx, my = int(rng.integers(2 * size, 4 * size)), int(rng.integers(2 * size, 4 * size))
    leading = size * rng.uniform(1.4, 1.8)
    width = int(max(widths)) + 2 * mx
    height = int(leading * (len(lines) - 1) + 1.5 * size) + 2 * my
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    centre_heading = rng.random() < 0.5
    for i, (text, font) in enumerate(zip(lines, fonts)):
        baseline = my + size + i * leading
        if i == 0 and centre_heading:
            x, anchor = width / 2, "ms"
        elif language.rtl:
            x, anchor = width - mx, "rs"
        else:
            x, anchor = mx, "ls"
        draw.text((x, baseline), text, font=font, fill=0, anchor=anchor, **kwargs)
    return image


def _smooth_field(shape: tuple[int, int], cell: int, rng: np.random.Generator) -> np.ndarray:
    """Unit-variance noise that varies smoothly over about `cell` pixels."""
    h, w = shape
    coarse = rng.normal(0, 1, size=(max(h // cell, 2), max(w // cell, 2))).astype(np.float32)
    return np.asarray(Image.fromarray(coarse, mode="F").resize((w, h), Image.BICUBIC))


def _paper_and_ink(image: Image.Image, hard: bool, rng: np.random.Generator) -> Image.Image:
    """Replace pure white and black by textured paper and uneven ink."""
    if hard and rng.random() < 0.2:  # ink bleed: strokes spread into the paper
        image = image.filter(ImageFilter.MinFilter(3))
    ink_cover = 1.0 - np.asarray(image, dtype=np.float32) / 255.0
    shape = ink_cover.shape
    paper = rng.uniform(0.72, 0.9) if hard else rng.uniform(0.86, 1.0)
    paper_tone = (
        paper
        + (0.07 if hard else 0.02) * _smooth_field(shape, 16, rng)  # stains, uneven lighting
        + (0.05 if hard else 0.02) * _smooth_field(shape, 2, rng)  # grain and fibres
    )
    ink = rng.uniform(0.1, 0.35) if hard else rng.uniform(0.0, 0.2)
    ink_tone = ink + (0.12 if hard else 0.04) * _smooth_field(shape, 6, rng)  # uneven inking
    if hard:  # worn type: ink missing in small patches
        worn = _smooth_field(shape, 2, rng) > rng.uniform(1.2, 1.8)
        ink_cover = np.where(worn, ink_cover * 0.35, ink_cover)
    arr = paper_tone * (1.0 - ink_cover) + ink_tone * ink_cover
    if hard:  # dust: a few dark specks
        count = int(shape[0] * shape[1] / rng.uniform(1500, 4000))
        ys, xs = rng.integers(0, shape[0], count), rng.integers(0, shape[1], count)
        arr[ys, xs] = rng.uniform(0.1, 0.5, count)
    return Image.fromarray(np.clip(arr * 255, 0, 255).astype(np.uint8), mode="L")


def degrade(image: Image.Image, level: str, rng: np.random.Generator) -> Image.Image:
    """Make a clean render look scanned: paper and ink texture, skew, blur, resolution, noise, JPEG."""
    if level not in LEVELS:
        raise ValueError(f"unknown degradation level {level!r}; choose one of {', '.join(LEVELS)}")
    if level == "clean":
        return image
    hard = level == "degraded"
    image = _paper_and_ink(image, hard, rng)
    angle = rng.uniform(-3, 3) if hard else rng.uniform(-0.8, 0.8)
    fill = int(np.median(np.asarray(image)))
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
