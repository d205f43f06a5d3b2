"""``heritage search QUERY [--json]`` and ``heritage reindex`` (with a progress bar)."""
from __future__ import annotations

import json
import re

import click

from web.cli import CliContext, pass_ctx


def register(cli: click.Group) -> None:
    cli.add_command(search_command)
    cli.add_command(reindex)


def _filters(values: tuple[str, ...]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for v in values:
        if "=" not in v:
            raise click.UsageError(f"--filter {v!r}: write FACET=VALUE, e.g. --filter decade=1920s")
        k, _, val = v.partition("=")
        out.setdefault(k.strip(), []).append(val.strip())
    return out


@click.command("search")
@click.argument("query")
@click.option("--json", "as_json", is_flag=True, help="Print the search JSON (same shape as /api/search).")
@click.option("--filter", "filters", multiple=True, metavar="FACET=VALUE",
              help="Narrow by a facet (collection, institution, type, language, decade, place, subject); repeatable.")
@click.option("--sort", type=click.Choice(["relevance", "date", "title"]), default="relevance", show_default=True)
@click.option("--page", type=click.IntRange(1, 10_000), default=1, show_default=True)
@click.option("--per-page", type=click.IntRange(1, 100), default=20, show_default=True)
@click.option("--public", is_flag=True, help="Only what anonymous visitors may see (default: everything, as an admin).")
@pass_ctx
def search_command(ctx: CliContext, query: str, as_json: bool, filters: tuple[str, ...], sort: str, page: int,
                   per_page: int, public: bool) -> None:
    """Search OCR text, transcripts and metadata (traditional or simplified, Jyutping, English)."""
    from repository.access import Viewer
    from search.outbox import drain_outbox
    from search.service import search

    viewer = Viewer.anonymous() if public else Viewer(user_id=0, role="admin", name="cli")
    drain_outbox(ctx.repo)  # the operator expects what was just ingested to be found
    result = search(ctx.repo, query, filters=_filters(filters), sort=sort, page=page, per_page=per_page,
                    viewer=viewer)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=1))
        return
    click.echo(f"{result['total']} result(s)")
    for r in result["results"]:
        click.echo(f"{r['id']}\t{r['title']}\t(score {r['score']})")
        for snip in r["snippets"]:
            plain = re.sub(r"</?mark>", "**", snip)
            click.echo("    " + click.unstyle(plain).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"))
        for h in r["hits"][:5]:
            where = f"page {h['page']} at {h['xywh']}" if "page" in h else f"{h['start']:.1f}s-{h['end']:.1f}s"
            click.echo(f"    hit: {where}")


@click.command()
@pass_ctx
def reindex(ctx: CliContext) -> None:
    """Rebuild the search index from the database and swap it in (no downtime)."""
    from tqdm import tqdm

    from search.service import rebuild, total_items

    repo = ctx.repo
    with tqdm(total=total_items(repo), unit="item", desc="reindex", file=click.get_text_stream("stderr")) as bar:
        n = rebuild(repo, progress=bar.update)
    click.echo(f"reindexed {n} item(s) with {repo.settings.search}")
