"""Small fixture data built in tmp_path: images, image folders, the data config."""

import io
import json
import struct
import zlib

from PIL import Image, ImageDraw


def png_bytes(index: int = 0, size: tuple[int, int] = (120, 32)) -> bytes:
    """A small line-like image that differs with `index`."""
    image = Image.new("L", size, 255)
    ImageDraw.Draw(image).rectangle((4 + index % 50, 8, 40 + index % 70, 24), fill=0)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height (and holds no pixel data)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def make_imagefolder(folder, texts, metadata_lines=None):
    """Images 0000.png.. and a metadata.jsonl (raw lines when given, else one per text)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(len(texts)):
        (folder / f"{i:04d}.png").write_bytes(png_bytes(i))
    if metadata_lines is None:
        metadata_lines = [
            json.dumps(
                {"file_name": f"{i:04d}.png", "text": t, "license": "CC0"}, ensure_ascii=False
            ).encode()
            for i, t in enumerate(texts)
        ]
    (folder / "metadata.jsonl").write_bytes(b"\n".join(metadata_lines) + b"\n")
    return folder


GERMAN_LINES = [f"Zeile {word} Nummer {i}" for i, word in enumerate(["eins", "zwei", "drei", "vier"] * 10)]
