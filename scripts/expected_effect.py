"""Rebuild shading/assets/expected_effect.json from a poisoning experiment's report:

    python scripts/expected_effect.py docs/poison-experiment-full.json

The table is what ``protect`` reports as ``expected_effect`` (see shading/measure/expected.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from shading import effect_table

TABLE = Path(__file__).resolve().parents[1] / "shading" / "assets" / "expected_effect.json"


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    table = effect_table(json.loads(Path(argv[0]).read_text()))
    TABLE.write_text(json.dumps(table, indent=1) + "\n")
    print(f"wrote {TABLE}: {', '.join(table['intensities'])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
