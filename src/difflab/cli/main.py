"""``difflab`` entry point: sub-commands, one-line errors, exit codes.

A :class:`~difflab.errors.DifflabError` prints ``difflab: error: ...`` on one line
and exits 2 (a traceback only with ``--debug``). Training stopped by SIGINT (Ctrl-C) exits
130 and by SIGTERM 143, after checkpointing the last completed step; the message says
which step was saved. A :class:`~difflab.errors.DifflabWarning` prints as one line.
"""

import argparse
import sys
import traceback
import warnings

from difflab.errors import DifflabError, Interrupted


def command_names() -> list[str]:
    """Sub-commands are the ``cmd_<name>.py`` modules of this package (main job first)."""
    import pkgutil

    import difflab.cli as pkg

    found = sorted(m.name[4:] for m in pkgutil.iter_modules(pkg.__path__) if m.name.startswith("cmd_"))
    first = [c for c in ("demo", "train", "sample", "evaluate") if c in found]
    return first + [c for c in found if c not in first]


def build_parser() -> argparse.ArgumentParser:
    from importlib import import_module

    from difflab import __version__
    from difflab.cli.common import HelpFormatter

    parser = argparse.ArgumentParser(
        prog="difflab",
        description=(
            "difflab: diffusion models that are cheap to sample, easy to take apart, and useful beyond generation."
        ),
    )
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    parser.add_argument("--version", action="version", version=f"difflab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in command_names():
        module = import_module(f"difflab.cli.cmd_{name}")
        p = sub.add_parser(
            name.replace("_", "-"), help=module.HELP, description=module.__doc__, formatter_class=HelpFormatter
        )
        p.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
        module.add_arguments(p)
        p.set_defaults(handler=module.run)
    return parser


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings from the library print as one line, like errors (``difflab: warning: ...``)."""
    print(f"difflab: warning: {message}", file=sys.stderr if file is None else file)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # `key=value` overrides may come after options too (`difflab train CFG --out R train.steps=10`).
    if extra and hasattr(args, "overrides") and all("=" in e and not e.startswith("-") for e in extra):
        args.overrides = [*args.overrides, *extra]
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    from difflab.utils.threads import configure_threads

    configure_threads()
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _one_line_warning
            args.handler(args)
    except DifflabError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"difflab: error: {exc}", file=sys.stderr)
        return 2
    except Interrupted as exc:
        print(f"difflab: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("difflab: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
