"""One format table (``shading.FORMATS``): the daemon's upload check, the core's writer and
the CLI accept the same formats, and refuse the others with the same words."""

from __future__ import annotations

import io

import pytest
from PIL import Image

import shading
from shadetest import run_shade
from shading import FORMATS, ImageError, inspect_image

PIL_NAMES = {"PNG": "PNG", "JPEG": "JPEG", "WEBP": "WEBP", "BMP": "BMP", "TIFF": "TIFF", "GIF": "GIF"}


def _image(fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 24), (120, 60, 30)).save(buf, PIL_NAMES[fmt])
    return buf.getvalue()


@pytest.mark.parametrize("fmt", sorted(PIL_NAMES))
def test_the_upload_check_accepts_exactly_the_format_table(tmp_path, fmt) -> None:
    path = tmp_path / f"x.{fmt.lower()}"
    path.write_bytes(_image(fmt))
    if fmt in FORMATS:
        assert inspect_image(path, 10 ** 6).format == fmt
    else:
        with pytest.raises(ImageError, match="PNG, JPEG or WebP"):
            inspect_image(path, 10 ** 6)


def test_the_writer_keeps_exactly_the_format_table() -> None:
    from shading.io.imageio import EXTENSIONS, KEPT_FORMATS

    assert KEPT_FORMATS == set(FORMATS)
    assert EXTENSIONS == {fmt: shading.format_extension(fmt) for fmt in FORMATS}


def test_the_cli_refuses_what_the_daemon_refuses(tmp_path, proc_env) -> None:
    bmp = tmp_path / "scan.bmp"
    bmp.write_bytes(_image("BMP"))
    done = run_shade(["protect", str(bmp), "--out", str(tmp_path / "out")], proc_env, timeout=120)
    assert done.returncode != 0
    assert "PNG, JPEG or WebP" in done.stderr, done.stderr
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
