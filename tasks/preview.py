"""Contact sheets: sample images with their transcriptions, to look at a language or a task."""

from __future__ import annotations

import io
from dataclasses import replace

from PIL import Image, ImageDraw

from tasks.languages import LANGUAGES, Language, language_or_default
from tasks.render import (
    LEVELS,
    available_fonts,
    fonts_covering,
    language_fonts,
    layout_options,
    load_font,
)
from tasks.sources import read_samples, synthetic_spec, task_synthetic_spec
from tasks.synthetic import SyntheticSpec, synthetic_splits
from tasks.taskspec import GENERATED_SOURCES, load_task

SHEET_WIDTH = 1000
CAPTION_SIZE = 20
LABEL_WIDTH = 90
GAP = 10


def preview_rows(name: str, levels: tuple[str, ...], count: int, data_cfg) -> tuple[Language, list]:
    """(language, [(transcription, [(label, image), ...]), ...]) for a registry language code or
    a task (spec path, shipped spec name, SOURCE:PATH:LANG). Generated data is shown at each of
    `levels` (default: all for a language, the task's level for a task); file data as it is."""
    if name in LANGUAGES:
        spec = replace(synthetic_spec(data_cfg, name), train=0, test=count)
        return LANGUAGES[name], _generated_rows(spec, levels or LEVELS)
    task = load_task(name)
    if task.source in GENERATED_SOURCES:
        spec = replace(task_synthetic_spec(task, data_cfg), train=0, test=count)
        return spec.language_entry(), _generated_rows(spec, levels or (spec.level,))
    samples, _ = read_samples(task)
    rows = []
    for sample in samples[:count]:
        image = Image.open(sample["image"]["path"] or io.BytesIO(sample["image"]["bytes"]))
        rows.append((sample["text"], [(sample["id"].removeprefix(task.name + "-"), image.convert("L"))]))
    return language_or_default(task.language), rows


def _generated_rows(spec: SyntheticSpec, levels: tuple[str, ...]) -> list:
    by_level = {}
    for level in levels:
        _, test = synthetic_splits(replace(spec, level=level), workers=1, use_cache=False)
        by_level[level] = test
    first = next(iter(by_level.values()))
    return [
        (first[i]["text"], [(level, ds[i]["image"]) for level, ds in by_level.items()])
        for i in range(len(first))
    ]


def _caption_font(text: str, language: Language) -> str:
    # The language's own fonts first: they draw Han in its simplified forms, for instance.
    fonts = fonts_covering(text, language_fonts(language)) or fonts_covering(text, available_fonts())
    return (fonts or available_fonts())[0]


def _fit(image: Image.Image, width: int) -> Image.Image:
    if image.width <= width:
        return image
    return image.resize((width, max(1, round(image.height * width / image.width))), Image.BILINEAR)


def contact_sheet(language: Language, rows: list) -> Image.Image:
    """Each sample: its transcription (shaped, in reading direction), then its image(s) labelled."""
    layout = layout_options(language)
    image_width = SHEET_WIDTH - LABEL_WIDTH - 2 * GAP
    blocks = []
    for text, images in rows:
        lines = text.splitlines() or [""]
        fonts = [load_font(_caption_font(line, language), CAPTION_SIZE) for line in lines]
        fitted = [(label, _fit(image, image_width)) for label, image in images]
        height = len(lines) * int(CAPTION_SIZE * 1.5) + sum(im.height + GAP for _, im in fitted) + 2 * GAP
        blocks.append((lines, fonts, fitted, height))
    sheet = Image.new("RGB", (SHEET_WIDTH, sum(b[3] for b in blocks) + GAP), (235, 235, 235))
    draw = ImageDraw.Draw(sheet)
    label_font = load_font(available_fonts()[0], 14)
    y = GAP
    for lines, fonts, fitted, height in blocks:
        draw.rectangle((GAP // 2, y - GAP // 2, SHEET_WIDTH - GAP // 2, y + height - GAP), fill="white")
        for line, font in zip(lines, fonts):
            if language.rtl:
                draw.text((SHEET_WIDTH - GAP, y), line, font=font, fill=(20, 40, 140), anchor="ra", **layout)
            else:
                draw.text((GAP, y), line, font=font, fill=(20, 40, 140), **layout)
            y += int(CAPTION_SIZE * 1.5)
        for label, image in fitted:
            draw.text((GAP, y + 2), label, font=label_font, fill=(110, 110, 110))
            sheet.paste(image.convert("RGB"), (LABEL_WIDTH + GAP, y))
            y += image.height + GAP
        y += 2 * GAP
    return sheet
