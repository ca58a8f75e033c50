"""The ``journeysim`` command line. User errors exit with code 2 and a one-line
message, never a traceback."""

from __future__ import annotations

import argparse
import sys

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse exits 2 already; keep it one line
        self.exit(2, f"journeysim: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="journeysim", description="Customer journey what-if analysis."
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    demo = sub.add_parser("demo", help="analyse the embedded B2B SaaS journey")
    demo.add_argument("--periods", type=int, default=36, help="horizon in months")
    demo.add_argument("--out", default=None, help="where to write the retention PNG")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "demo":
            from .demo import run_demo

            if args.periods < 0:
                raise ValueError(f"--periods must be >= 0, got {args.periods}")
            run_demo(periods=args.periods, out=args.out)
    except (ValueError, OSError) as err:
        print(f"journeysim: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
