"""``heritage import-csv FILE --files DIR [--dry-run]``: CSV batch ingest from the command line."""
from __future__ import annotations

import json
import shutil
import tempfile
import warnings
from pathlib import Path

import click

from web.cli import CliContext, pass_ctx


def register(cli: click.Group) -> None:
    cli.add_command(import_csv)


@click.command("import-csv")
@click.argument("csv_file", metavar="FILE", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--files", "files", required=True, type=click.Path(path_type=Path),
              help="Folder (or .zip) holding the files the CSV names, relative to it.")
@click.option("--dry-run", is_flag=True, help="Check every row and report problems; ingest nothing.")
@click.option("--collection", default=None, help="Collection for rows without a collection column.")
@click.option("--only-good", is_flag=True, help="Ingest the rows without problems even if other rows have some.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--wait", is_flag=True, help="Return only when the items' processing is done.")
@pass_ctx
def import_csv(ctx: CliContext, csv_file: Path, files: Path, dry_run: bool, collection: str | None,
               only_good: bool, as_json: bool, wait: bool) -> None:
    """Ingest the items listed in a CSV FILE (UTF-8, GB18030 or Big5) from the folder or zip --files.

    Every row is checked first; with problems in any row nothing is ingested (unless --only-good).
    Prints the report, then each new item's id on its own line.
    """
    from config import InvalidInput
    from ingest import batch

    if not csv_file.is_file():
        raise InvalidInput(f"{csv_file}: no such CSV file")
    if not files.exists():
        raise InvalidInput(f"{files}: no such folder or zip")
    tmp = None
    try:
        files_dir = files
        if files.is_file():
            tmp = Path(tempfile.mkdtemp(prefix="import-csv-"))
            files_dir = batch.extract_zip(files, tmp / "files", max_bytes=ctx.settings.max_upload_bytes)
        with warnings.catch_warnings():  # library warnings (e.g. Pillow's bomb warning) are not for users:
            warnings.simplefilter("ignore")  # the problems themselves are in the report
            plan = batch.plan(ctx.repo, csv_file.read_bytes(), files_dir, default_collection=collection)
        _report(plan, as_json)
        if dry_run:
            if not plan.ok:
                raise click.ClickException(
                    f"dry run: {len(plan.bad)} of {len(plan.rows)} rows have problems"
                    + (f"; {len(plan.header_problems)} column problems" if plan.header_problems else ""))
            if not as_json:
                click.echo(f"dry run: all {len(plan.rows)} rows are fine; nothing was ingested", err=True)
            return
        result = batch.run(ctx.repo, plan, only_good=only_good)
        for _line, item_id, _job in result.created:
            click.echo(item_id)
        if wait and result.created:
            from ingest.intake import failed_jobs, wait_for

            jobs = wait_for(ctx.repo, [job for _l, _i, job in result.created])
            bad = failed_jobs(jobs)
            if bad:
                raise click.ClickException("; ".join(f"item {j.item_id}: {j.error or j.state}" for j in bad))
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _report(plan, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(plan.as_dict(), ensure_ascii=False, indent=1), err=False)
        return
    click.echo(f"encoding: {plan.encoding}; {len(plan.rows)} rows, {len(plan.good)} fine, {len(plan.bad)} with problems",
               err=True)
    for p in plan.header_problems:
        click.echo(f"header: {p}", err=True)
    for row in plan.rows:
        if row.ok:
            click.echo(f"line {row.line}: ok: {row.title} ({', '.join(row.files)}) -> {row.collection}", err=True)
        else:
            for p in row.problems:
                click.echo(f"line {row.line}: {p}", err=True)
