"""Reading and writing without weights: limits, refusals, metadata, atomic no-overwrite."""

import io
import os

import numpy as np
import pytest
from PIL import Image

from shading import ImageError, ImageTooLarge
from shading.io.imageio import compose, encode, load_image, output_name, write_new_file


def _save(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def test_refusals_say_what_to_do(tmp_path):
    cases = {
        "missing": (tmp_path / "nope.png", "no such file"),
        "empty": (b"", "empty"),
        "garbage": (b"\x00not an image at all" * 10, "not an image"),
    }
    for name, (source, words) in cases.items():
        with pytest.raises(ImageError, match=words):
            load_image(source)
    png = _save(Image.new("RGB", (64, 64), "red"), "PNG")
    with pytest.raises(ImageError, match="damaged or truncated"):
        load_image(png[: len(png) // 2] + b"\x00" * 0)
    with pytest.raises(ImageTooLarge, match="megapixels"):
        load_image(png, max_pixels=1000)
    cmyk = _save(Image.new("CMYK", (16, 16)), "JPEG")
    assert load_image(cmyk).rgb.shape == (16, 16, 3)          # converted to sRGB, not refused
    frames = [Image.new("RGB", (16, 16), c) for c in ("red", "blue")]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:])
    with pytest.raises(ImageError, match="animated"):
        load_image(buf.getvalue())
    sixteen = _save(Image.fromarray(np.full((16, 16), 40000, np.uint16)), "PNG")
    with pytest.raises(ImageError, match="16-bit"):
        load_image(sixteen)


def test_header_bomb_refused_before_decoding():
    # A PNG header claiming 20000 x 20000 pixels; the body is never decoded.
    img = Image.new("1", (20000, 20000))
    data = _save(img, "PNG")
    with pytest.raises(ImageTooLarge):
        load_image(data, max_pixels=50_000_000)


def test_exif_orientation_applied_gps_stripped_icc_kept():
    img = Image.new("RGB", (40, 20), "white")
    exif = Image.Exif()
    exif[0x0112] = 6                         # rotate 90 degrees on display
    exif[0x010F] = "CameraMaker"
    exif[0x8825] = {1: "N", 2: (1.0, 2.0, 3.0)}
    icc = b"fake-icc-profile-bytes"
    loaded = load_image(_save(img, "JPEG", exif=exif, icc_profile=icc))
    assert loaded.size == (20, 40)
    out = Image.open(io.BytesIO(encode(compose(loaded, loaded.rgb), loaded.format, loaded.info)))
    assert out.format == "JPEG" and out.size == (20, 40)
    assert out.info.get("icc_profile") == icc
    kept = out.getexif()
    assert kept.get(0x010F) == "CameraMaker"
    assert 0x8825 not in kept and kept.get(0x0112, 1) == 1


def test_alpha_and_grayscale_round_trip():
    rgba = np.zeros((16, 16, 4), np.uint8)
    rgba[..., 3] = np.arange(256, dtype=np.uint8).reshape(16, 16)
    loaded = load_image(_save(Image.fromarray(rgba, "RGBA"), "PNG"))
    assert loaded.alpha is not None
    out = compose(loaded, np.full((16, 16, 3), 200, np.uint8))
    assert out.mode == "RGBA" and np.array_equal(np.asarray(out)[..., 3], rgba[..., 3])
    gray = load_image(_save(Image.new("L", (16, 16), 90), "PNG"))
    assert gray.grayscale and compose(gray, gray.rgb).mode == "L"


def test_write_new_file_is_atomic_and_never_overwrites(tmp_path):
    target = tmp_path / "out.png"
    write_new_file(target, b"first")
    with pytest.raises(ImageError, match="never overwrites"):
        write_new_file(target, b"second")
    assert target.read_bytes() == b"first"
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"], "no temporary files left behind"
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask, "a result is readable like any new file"


def test_output_names_follow_the_format():
    assert output_name("a.JPEG", "JPEG") == "a.JPEG"
    assert output_name("b.gif", "PNG") == "b.png"
    assert output_name("c.webp", "WEBP") == "c.webp"


def test_a_signature_followed_by_junk_is_an_image_error_not_a_crash():
    from shadetest import png_bytes

    whole = png_bytes(np.zeros((40, 40, 3), np.uint8))
    with pytest.raises(ImageError, match="damaged or truncated"):
        load_image(whole[:20])             # the signature and half a header chunk
