"""``python audited_main.py LOG ARGS...``: run ``kubecert ARGS`` with the audit guard open from the start and
write what it saw to LOG when it ends, however it ends (tests/audit.py)."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import audit  # the folder of this file first, so the guard is the tests' own


def main() -> int:
    log, argv = Path(sys.argv[1]), sys.argv[2:]
    tempfile.gettempdir()  # the first call writes (and removes) a probe file there: Python's doing, not kubecert's
    context = audit.guard()
    seen = context.__enter__()
    code: int | str | None = 0
    try:
        from kubecert.cli import main as kubecert

        code = kubecert(argv)
    except SystemExit as exc:
        code = exc.code
    finally:
        context.__exit__(None, None, None)
        log.write_text(seen.to_json())
    return code if isinstance(code, int) else (0 if code is None else 1)


if __name__ == "__main__":
    sys.exit(main())
