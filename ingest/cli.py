"""``heritage ingest``: files become items (scans → OCR, recordings → web copies + transcripts)."""
from __future__ import annotations

from pathlib import Path

import click

from web.cli import CliContext, pass_ctx


def register(cli: click.Group) -> None:
    cli.add_command(ingest)


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--collection", required=True, help="Slug of the collection the items join.")
@click.option("--title", default=None, help="Title (default: the file or directory name).")
@click.option("--lang", default=None,
              help="OCR model(s): 'auto' (default; chosen per page) or e.g. chi_tra, chi_sim, chi_tra_vert, chi_tra+eng.")
@click.option("--vertical", is_flag=True, default=None, help="Pages are set vertically (古籍): use the vertical models.")
@click.option("--transcript", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="WebVTT, SRT or time-coded text transcript for a recording (default: same basename beside it).")
@click.option("--publish", is_flag=True, help="Publish each item as soon as its processing succeeds.")
@click.option("--wait", is_flag=True, help="Return only when derivatives and indexing are done (runs the jobs here).")
@pass_ctx
def ingest(ctx: CliContext, paths: tuple[Path, ...], collection: str, title: str | None, lang: str | None,
           vertical: bool | None, transcript: Path | None, publish: bool, wait: bool) -> None:
    """Ingest PATHS (files; a directory is one multi-page item) into a collection.

    Prints each new item's id on its own line.
    """
    from config import load_settings
    from ingest.intake import IngestOptions, failed_jobs, ingest_paths, wait_for

    if lang is not None:
        load_settings(ocr_languages=lang)  # validates the value with the settings' rules
    if transcript is not None and len(paths) != 1:
        raise click.UsageError("--transcript belongs to one recording: give exactly one PATH")
    opts = IngestOptions(collection=collection, title=title, lang=lang, vertical=vertical,
                         transcript=transcript, publish=publish)
    created = ingest_paths(ctx.repo, paths, opts, on_item=lambda item_id: click.echo(item_id))
    if wait:
        from ingest.progress import job_progress_bar

        with job_progress_bar() as update:
            jobs = wait_for(ctx.repo, [job_id for _, job_id in created], on_progress=update)
        bad = failed_jobs(jobs)
        if bad:
            raise click.ClickException("; ".join(f"item {j.item_id}: {j.error or j.state}" for j in bad))
