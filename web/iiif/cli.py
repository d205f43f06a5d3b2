"""``heritage iiif-warm``: build the image pyramids that are missing — those of items ingested
before the scan job built them, or after the cache directory was cleared (big scans take seconds
each on first request otherwise); ``--force`` builds them all again. The scan job builds them at ingest (:mod:`ingest.scan.pyramid`)."""
from __future__ import annotations

from flask_babel import gettext as _

import click
from sqlalchemy import select

from config import InvalidInput
from repository.models import File, Page
from web.cli import CliContext, pass_ctx


def register(cli: click.Group) -> None:
    cli.add_command(iiif_warm)


@click.command("iiif-warm")
@click.argument("item_ids", nargs=-1, type=int)
@click.option("--force", is_flag=True,
              help="Build the pyramids again even where they exist (e.g. one damaged on disk).")
@pass_ctx
def iiif_warm(ctx: CliContext, item_ids: tuple[int, ...], force: bool) -> None:
    """Build the missing IIIF pyramids for the page images of ITEM_IDS (default: every item)."""
    from ingest.scan.pyramid import ensure_pyramid, needs_pyramid, pyramid_path

    repo = ctx.repo
    if any(i <= 0 for i in item_ids):
        raise InvalidInput(_("item ids are positive whole numbers"))
    query = (select(Page.width, Page.height, File.sha256)
             .join(File, (File.page_id == Page.id) & (File.role == "page_image")))
    if item_ids:
        query = query.where(Page.item_id.in_(item_ids))
    with repo.session() as s:
        rows = s.execute(query).all()
    built = skipped = 0
    cache_dir = repo.settings.cache_dir
    for width, height, sha in rows:
        if not width or not height or not needs_pyramid(width, height):
            skipped += 1
            continue
        if force or not pyramid_path(cache_dir, sha).is_file():
            ensure_pyramid(cache_dir, repo.store.path(sha), sha, rebuild=force)
            built += 1
    click.echo(f"pyramids built: {built}; small images served directly: {skipped}; pages: {len(rows)}")
