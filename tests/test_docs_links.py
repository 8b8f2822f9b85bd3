"""The README and docs/ hold together: every relative link (and the heading it points at)
exists, the README stays a three-minute read with its quick start unchanged, and the
settings are described by one table only."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted([ROOT / "README.md", ROOT / "CHANGELOG.md", *(ROOT / "docs").glob("*.md")])
QUICK_START = (
    "./shade protect ../shared/images/shipwreck.jpg --anchor ../shared/images/starry_night.jpg --out shaded/",
    "./run-tests",
)
README_LIMIT = 15_000  # bytes

_FENCE = re.compile(r"^\s*(```|~~~)")
_INLINE_CODE = re.compile(r"`[^`\n]*`")
# [text](target) and ![alt](target); the target ends at the first space or closing bracket.
_LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def _prose_lines(text: str) -> list[str]:
    """The lines outside fenced code blocks, with inline code blanked out."""
    lines, fenced = [], False
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
            continue
        lines.append("" if fenced else _INLINE_CODE.sub("", line))
    return lines


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "")
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    anchors = set()
    fenced = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if _FENCE.match(line):
            fenced = not fenced
            continue
        match = None if fenced else _HEADING.match(line)
        if match:
            slug = _slug(match.group(2))
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def _links(path: Path) -> list[tuple[int, str]]:
    found = []
    for number, line in enumerate(_prose_lines(path.read_text(encoding="utf-8")), start=1):
        for match in _LINK.finditer(line):
            target = match.group(1)
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):  # http:, mailto:, ...
                continue
            found.append((number, target))
    return found


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(doc: Path) -> None:
    broken = []
    for line, target in _links(doc):
        file_part, _, anchor = target.partition("#")
        dest = (doc.parent / file_part).resolve() if file_part else doc
        if not dest.exists():
            broken.append(f"line {line}: {target} (no such file)")
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            broken.append(f"line {line}: {target} (no heading #{anchor} in {dest.name})")
    assert not broken, f"{doc.relative_to(ROOT)} has broken links:\n" + "\n".join(broken)


def test_the_checker_sees_links_and_headings(tmp_path: Path) -> None:
    doc = tmp_path / "a.md"
    doc.write_text("# Does it work? `x y`\n\n[b](b.md#top) ![i](i.png) `[not](a link)`\n"
                   "```\n[nor](this)\n# nor this heading\n```\n", encoding="utf-8")
    assert _links(doc) == [(3, "b.md#top"), (3, "i.png")]
    assert _anchors(doc) == {"does-it-work-x-y"}


def test_readme_is_short_and_keeps_the_quick_start() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    size = len(readme.encode("utf-8"))
    assert size < README_LIMIT, f"README.md is {size} bytes; move details to docs/ (limit {README_LIMIT})"
    for command in QUICK_START:
        assert any(line.strip() == command for line in readme.splitlines()), f"quick start lost: {command}"


def test_the_settings_have_one_table() -> None:
    """docs/configuration.md, generated from shade_daemon/config.py, is the one settings table;
    a second one written by hand (as the README and docs/daemon.md once had) drifts."""
    header = re.compile(r"^\|\s*(setting|key)\s*\|\s*default\s*\|", re.IGNORECASE)  # not the extension's keys
    copies = [f"{doc.relative_to(ROOT)}:{number}" for doc in DOCS if doc.name != "configuration.md"
              for number, line in enumerate(doc.read_text(encoding="utf-8").splitlines(), start=1)
              if header.match(line)]
    assert not copies, f"settings tables outside docs/configuration.md: {copies}; link it instead"
    assert "(docs/configuration.md)" in (ROOT / "README.md").read_text(encoding="utf-8")
