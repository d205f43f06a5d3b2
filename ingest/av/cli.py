"""``heritage transcript …``: attach a transcript to a recording later, or run a transcriber."""
from __future__ import annotations

from pathlib import Path

import click

from web.cli import CliContext, pass_ctx


def register(cli: click.Group) -> None:
    cli.add_command(transcript)


@click.group()
def transcript() -> None:
    """Time-coded transcripts of recordings (WebVTT, SRT or a time-coded text index)."""


@transcript.command("attach")
@click.argument("item_id", type=int)
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@pass_ctx
def attach(ctx: CliContext, item_id: int, file: Path) -> None:
    """Attach FILE as the transcript of recording ITEM_ID (replaces an earlier one)."""
    from ingest.av import attach_transcript
    from search import drain_outbox

    n = attach_transcript(ctx.repo, item_id, file, agent="cli")
    drain_outbox(ctx.repo)
    click.echo(f"item {item_id}: {n} segments from {file.name}")


@transcript.command("asr")
@click.argument("item_id", type=int)
@click.option("--engine", required=True, help="Name of an installed transcriber plugin.")
@click.option("--language", default="yue", show_default=True, help="Language code passed to the transcriber.")
@pass_ctx
def asr(ctx: CliContext, item_id: int, engine: str, language: str) -> None:
    """Transcribe recording ITEM_ID with a transcriber plugin (none ships by default)."""
    from ingest.av.asr import transcribe_item
    from search import drain_outbox

    n = transcribe_item(ctx.repo, item_id, engine, language=language, agent="cli")
    drain_outbox(ctx.repo)
    click.echo(f"item {item_id}: {n} segments from transcriber {engine}")
