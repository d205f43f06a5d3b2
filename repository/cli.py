"""Preservation verbs of ``heritage``: fixity, export-bag, import-bag, backup, restore.

Listed in ``web.cli.COMMAND_MODULES``. Like ``web/cli.py`` this module is a composition point:
``import-bag`` (when a bag has no derivatives) asks the ingest pipelines to re-derive, and
``restore`` rebuilds the search index; those two imports are done lazily inside the verbs so
that the ``repository`` package itself never depends on ``ingest`` or ``search``.
"""
from __future__ import annotations

import sys
from pathlib import Path

import click

from web.cli import CliContext, pass_ctx


def register(cli: click.Group) -> None:
    for command in (fixity, export_bag, import_bag, backup, restore):
        cli.add_command(command)


def _bar(total: int, desc: str):
    """A tqdm progress bar on stderr (hidden when stderr is not a terminal unless asked)."""
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="file", file=sys.stderr, disable=None, leave=False)


@click.command()
@pass_ctx
def fixity(ctx: CliContext) -> None:
    """Re-verify the SHA-256 of every stored file; exit 1 if any is missing or altered."""
    from repository.preservation import fixity as fx

    repo = ctx.repo
    with _bar(fx.count_blobs(repo), "fixity") as bar:
        report = fx.verify_all(repo, agent="cli", on_checked=lambda _sha, _ok: bar.update(1))
    for problem in report.problems:
        click.echo(problem.describe(repo))
    summary = f"fixity: {report.checked} files checked, {report.ok} ok, {report.failed} failed"
    if report.failed:
        click.echo(summary)
        raise click.ClickException(f"{report.failed} stored file(s) missing or altered (listed above)")
    click.echo(summary)


@click.command("export-bag")
@click.argument("item_id", type=int)
@click.argument("dest", type=click.Path(path_type=Path))
@click.option("--derivatives", is_flag=True, help="Also include page images, OCR files, access copies ….")
@pass_ctx
def export_bag(ctx: CliContext, item_id: int, dest: Path, derivatives: bool) -> None:
    """Write item ITEM_ID as a BagIt bag in the new directory DEST."""
    from repository.preservation.bag import export_bag as export

    path = export(ctx.repo, item_id, dest, derivatives=derivatives, agent="cli")
    click.echo(str(path))


def _pipeline_deriver():
    """Re-derive an item from its originals with the ingest pipelines (lazy import, see module doc)."""
    from ingest import intake

    def derive(uow, item, files, transcript):
        kinds = {intake.sniff(f) for f in files}
        kind = "pdf" if kinds == {"pdf"} else ("image" if kinds <= set(intake.SCAN_KINDS) else intake.MEDIA_KIND)
        options = intake.IngestOptions(collection=item.collection.slug, publish=item.publish_when_ready,
                                       agent=uow.agent, lang=item.ocr_languages, vertical=item.vertical,
                                       transcript=transcript)
        return intake._pipeline(kind)(uow, item, files, options)

    return derive


@click.command("import-bag")
@click.argument("bag", type=click.Path(path_type=Path))
@click.option("--collection", default=None, help="Put the item in this collection (default: the bag's).")
@click.option("--wait", is_flag=True, help="When derivatives must be rebuilt, run that job now.")
@pass_ctx
def import_bag(ctx: CliContext, bag: Path, collection: str | None, wait: bool) -> None:
    """Validate the bag BAG and re-create its item; prints the new item id."""
    from repository.preservation.bag import import_bag as do_import

    repo = ctx.repo
    result = do_import(repo, bag, agent="cli", collection=collection, derive=_pipeline_deriver())
    if result.job_id is not None:
        if wait:
            from ingest.intake import failed_jobs, wait_for

            failed = failed_jobs(wait_for(repo, [result.job_id]))
            if failed:
                raise click.ClickException(f"item {result.item_id}: re-deriving failed: {failed[0].error}")
        else:
            click.echo(f"queued job {result.job_id} to rebuild derivatives (run `heritage worker`)", err=True)
    else:
        _drain_search(repo)
    click.echo(str(result.item_id))


def _drain_search(repo) -> None:
    from config import HeritageError
    from search import drain_outbox

    try:
        drain_outbox(repo)
    except HeritageError as exc:  # the outbox keeps the task; a worker indexes it later
        click.echo(f"search not updated yet: {exc}", err=True)


@click.command()
@click.argument("dest", type=click.Path(path_type=Path))
@pass_ctx
def backup(ctx: CliContext, dest: Path) -> None:
    """Snapshot database and files into DEST (safe while the server runs; reuses an earlier backup there)."""
    from repository.preservation.backup import backup as do_backup

    bar = None

    def progress(n: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = _bar(total, "backup")
        bar.update(1)

    try:
        report = do_backup(ctx.repo, dest, on_progress=progress)
    finally:
        if bar is not None:
            bar.close()
    for problem in report.problems:
        click.echo(problem)
    click.echo(f"backup: {report.database} database + {report.objects} files ({report.copied} copied) in {dest}")
    if report.problems:
        raise click.ClickException(f"{len(report.problems)} file(s) could not be backed up (listed above)")


@click.command()
@click.argument("src", type=click.Path(path_type=Path))
@pass_ctx
def restore(ctx: CliContext, src: Path) -> None:
    """Restore the backup SRC into an empty data directory, then rebuild the search index."""
    from repository.preservation.backup import restore as do_restore

    repo = do_restore(ctx.settings, src)
    ctx.__dict__["repo"] = repo
    from search.service import rebuild  # see module doc: the CLI composes repository and search

    n = rebuild(repo)
    click.echo(f"restored {ctx.settings.data_dir} from {src}; search index rebuilt ({n} documents)")
