"""What a file's place in the watched folder asks for (documented in README and
docs/daemon.md):

    to-post/IMAGE                          the configured mode, target and style
    to-post/<concept>/IMAGE                poison toward <concept> (both, if that is the configured mode)
    to-post/cloak-<style>/IMAGE            cloak toward the reference style <style>
    to-post/<concept>/cloak-<style>/IMAGE  both: <concept> in the style <style>

Names are what `shade anchors` and `shade styles` list. Deeper folders are kept in
ready/ and originals/ but do not change the options.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Optional

CLOAK_PREFIX = "cloak-"


def _style_of(folder: str) -> Optional[str]:
    low = folder.lower()
    return folder[len(CLOAK_PREFIX):] if low.startswith(CLOAK_PREFIX) and len(folder) > len(CLOAK_PREFIX) else None


def folder_fields(rel: PurePath, configured_mode: str) -> dict[str, str]:
    """Job fields for the file at ``rel`` (relative to to-post/)."""
    folders = list(rel.parts[:-1])
    if not folders:
        return {"mode": configured_mode}
    style = _style_of(folders[0])
    if style is not None:
        return {"mode": "cloak", "style": style}
    fields = {"target": folders[0], "mode": "both" if configured_mode == "both" else "poison"}
    if len(folders) > 1 and (style := _style_of(folders[1])) is not None:
        fields.update(mode="both", style=style)
    return fields
