"""The ``heritage`` command line.

Verbs of other capabilities register here: each module listed in :data:`COMMAND_MODULES`
defines ``register(cli: click.Group) -> None`` and adds its commands. Any
:class:`config.HeritageError` or usage error ends the program with a one-line reason on stderr
and a non-zero exit (2 for usage errors, 1 otherwise).
"""
from __future__ import annotations

import importlib
import logging
import os
import sys
from functools import cached_property

import click

from config import HeritageError, Settings, load_settings

#: Modules that add verbs (``register(cli)``). One line each; keep sorted.
COMMAND_MODULES: tuple[str, ...] = (
    "ingest.av.cli",
    "ingest.batch_cli",
    "ingest.cli",
    "repository.cli",
    "search.cli",
    "web.commands",
    "web.iiif.cli",
)


class CliContext:
    """Settings and repository, loaded only when a verb needs them."""

    def __init__(self, overrides: dict):
        self.overrides = overrides

    @cached_property
    def settings(self) -> Settings:
        return load_settings(**self.overrides)

    @cached_property
    def repo(self):
        from repository import Repository

        return Repository.open(self.settings)

    def create_repo(self):
        from repository import Repository

        repo = Repository.open(self.settings, create=True)
        self.__dict__["repo"] = repo
        return repo


pass_ctx = click.make_pass_decorator(CliContext)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--data-dir", type=click.Path(file_okay=False), default=None,
              help="Data directory (default: $HERITAGE_DATA_DIR or ./heritage-data).")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None,
              help="TOML settings file (default: $HERITAGE_CONFIG or <data-dir>/heritage.toml).")
@click.version_option(package_name="lingnan-heritage")
@click.pass_context
def cli(ctx: click.Context, data_dir: str | None, config_file: str | None) -> None:
    """Lingnan Heritage Repository (嶺南文獻庫).

    Settings come from HERITAGE_* environment variables (HERITAGE_DATA_DIR, HERITAGE_SEARCH,
    HERITAGE_DATABASE_URL, …) or a TOML file; options here override them.
    """
    ctx.obj = CliContext({"data_dir": data_dir, "config_file": config_file})


def _register_all() -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(cli)


LONG_RUNNING = ("serve", "worker")


def _configure_logging(argv: list[str]) -> None:
    """One-shot verbs print one line on failure, so library log records stay quiet (errors only);
    the long-running ``serve`` and ``worker`` log what they do. ``HERITAGE_LOG_LEVEL`` overrides."""
    words = iter(argv)
    verb = ""
    for word in words:
        if word in ("--data-dir", "--config"):
            next(words, None)  # the option's value
        elif not word.startswith("-"):
            verb = word
            break
    level = os.environ.get("HERITAGE_LOG_LEVEL") or ("INFO" if verb in LONG_RUNNING else "ERROR")
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    _configure_logging(sys.argv[1:] if argv is None else list(argv))
    _register_all()
    try:
        cli.main(args=argv, prog_name="heritage", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("heritage: aborted", err=True)
        return 1
    except click.UsageError as exc:
        sub = exc.ctx.command_path.removeprefix("heritage").strip() if exc.ctx else ""
        where = f" {sub}" if sub else ""
        click.echo(f"heritage{where}: {exc.format_message()} (see --help)", err=True)
        return 2
    except click.ClickException as exc:
        click.echo(f"heritage: {exc.format_message()}", err=True)
        return exc.exit_code
    except HeritageError as exc:
        click.echo(f"heritage: {exc}", err=True)
        return 1
    except KeyboardInterrupt:
        click.echo("heritage: interrupted", err=True)
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:
        click.echo(f"heritage: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), err=True)
        return 1
    return 0


def run() -> None:  # pragma: no cover - console script shim
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover - `python -m web.cli`: use the importable module
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    from web.cli import main as _main

    sys.exit(_main())
