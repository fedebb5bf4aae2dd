"""Check rendered brand PNGs against Home Assistant's brand image rules.

Usage: brand_check.py DIR [REFERENCE_DIR]

Checks every PNG of DIR: size (icons 256/512 square; logos landscape with the
shortest side 256/512, the maximum allowed), a transparent background (RGBA,
or a palette with transparency) and trimmed (ink touches all four edges).
With REFERENCE_DIR, it also reports any file whose pixels differ from the one
of the same name there.
Needs Pillow.
"""

from __future__ import annotations

from pathlib import Path
import sys

from PIL import Image, ImageChops

NAMES = (
    "icon.png",
    "icon@2x.png",
    "dark_icon.png",
    "dark_icon@2x.png",
    "logo.png",
    "logo@2x.png",
    "dark_logo.png",
    "dark_logo@2x.png",
)


def problems(path: Path) -> list[str]:
    """Return what is wrong with one image (empty when it is fine)."""
    found = []
    with Image.open(path) as img:
        if img.format != "PNG":
            found.append(f"format {img.format}, not PNG")
        # optipng may losslessly turn RGBA into a palette with transparency.
        if img.mode not in {"RGBA", "LA"} and "transparency" not in img.info:
            found.append(f"mode {img.mode} has no transparency")
        rgba = img.convert("RGBA")
    width, height = rgba.size
    scale = 2 if "@2x" in path.name else 1
    if "icon" in path.name:
        if (width, height) != (256 * scale, 256 * scale):
            found.append(f"{width}x{height}, icons must be {256 * scale}px square")
    elif height != 256 * scale or width < height:
        found.append(f"{width}x{height}, want landscape with height {256 * scale}")
    alpha = rgba.getchannel("A")
    if alpha.getbbox() != (0, 0, width, height):
        found.append(f"not trimmed: ink bbox {alpha.getbbox()} in {width}x{height}")
    if min(alpha.getpixel(corner) for corner in ((0, 0), (width - 1, 0))) != 0:
        found.append("top corners are not transparent")
    return found


def differs(path: Path, reference: Path) -> bool:
    """Return True when the two PNGs differ in size or in any pixel."""
    if not reference.is_file():
        return True
    with Image.open(path) as new, Image.open(reference) as old:
        if new.size != old.size:
            return True
        diff = ImageChops.difference(new.convert("RGBA"), old.convert("RGBA"))
        return diff.getbbox() is not None


def main() -> int:
    """Check DIR, print one line per image, return 1 on any problem."""
    directory = Path(sys.argv[1])
    reference = Path(sys.argv[2]) if len(sys.argv) > 2 else None
    failed = False
    for name in NAMES:
        path = directory / name
        if not path.is_file():
            print(f"  {name}: MISSING")
            failed = True
            continue
        found = problems(path)
        if reference is not None and differs(path, reference / name):
            found.append(f"differs from {reference / name}")
        with Image.open(path) as img:
            size = f"{img.width}x{img.height}"
        status = "; ".join(found) if found else "ok"
        print(f"  {name}: {size}, {path.stat().st_size} bytes: {status}")
        failed = failed or bool(found)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
