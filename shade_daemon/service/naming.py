"""The one no-overwrite naming policy: a file lands on a name that was free, never on top
of another file. With ``exact`` only the name itself is tried (a library entry: a taken
name is the caller's conflict); otherwise ``name-1.png``, ``name-2.png``... follow."""

from __future__ import annotations

import errno
import os
from pathlib import Path, PurePath
from typing import Iterator, Optional

_NO_LINKS = (errno.EXDEV, errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EACCES, errno.EMLINK)


def candidates(dest_dir: Path, name: str, exact: bool = False) -> Iterator[Path]:
    """``name`` in ``dest_dir``, then (unless ``exact``) its numbered variants."""
    p = PurePath(name)
    yield dest_dir / name
    if exact:
        return
    n = 1
    while True:
        yield dest_dir / f"{p.stem}-{n}{p.suffix}"
        n += 1


def same_inode(a: Path, b: Path) -> bool:
    try:
        sa, sb = os.lstat(a), os.lstat(b)
    except OSError:
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def link_no_clobber(src: Path, dest_dir: Path, name: str, exact: bool = False) -> Optional[Path]:
    """Hard-link ``src`` (a link itself, never its target) to the first free name. A name
    already linked to ``src`` (an earlier try cut short by a crash) is that name. None
    where this file system has no hard links; FileExistsError when ``exact`` and taken."""
    for dest in candidates(dest_dir, name, exact):
        try:
            os.link(src, dest, follow_symlinks=False)   # fails if dest exists: no overwrite, no race
            return dest
        except FileExistsError:
            if same_inode(src, dest):
                return dest
            continue
        except OSError as exc:
            if exc.errno not in _NO_LINKS:
                raise
            return None
    raise FileExistsError(errno.EEXIST, "the name is taken", str(dest_dir / name))


def rename_no_clobber(src: Path, dest_dir: Path, name: str, exact: bool = False) -> Path:
    """Without hard links (other disk, FAT...): check, then rename (a small race, no partial file)."""
    for dest in candidates(dest_dir, name, exact):
        if os.path.lexists(dest):
            continue
        os.replace(src, dest)
        return dest
    raise FileExistsError(errno.EEXIST, "the name is taken", str(dest_dir / name))


def place_new(src: Path, dest_dir: Path, name: str, exact: bool = False) -> Path:
    """Give ``src`` a free name in ``dest_dir`` (a link, or a rename where there are no links);
    ``src`` stays only when it was linked. Returns the name it got."""
    dest = link_no_clobber(src, dest_dir, name, exact)
    return dest if dest is not None else rename_no_clobber(src, dest_dir, name, exact)
