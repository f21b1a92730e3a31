"""``test_b2n.py``: KICLIP testing (3 views, summed logits), base / novel / harmonic mean in one table."""

from __future__ import annotations

import videokd.cli

from .cli_args import parse, parser
from .runner import test


def main(argv: list[str]) -> int:
    args, cfg = parse(parser("test_b2n.py", "KICLIP testing: base, novel and their harmonic mean"), argv)
    test(cfg, device=args.device)
    return 0


if __name__ == "__main__":
    raise SystemExit(videokd.cli.run_main(main, prog="test_b2n.py"))
