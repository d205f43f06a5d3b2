"""Foundation verbs: init, serve, worker, demo, institution/collection/user add."""
from __future__ import annotations

import os
import subprocess
import sys

import click

from web.cli import CliContext, pass_ctx


def register(cli: click.Group) -> None:
    for command in (init, serve, worker, demo, institution, collection, user):
        cli.add_command(command)


@click.command()
@pass_ctx
def init(ctx: CliContext) -> None:
    """Create the data directory and database (or migrate it to the newest schema)."""
    repo = ctx.create_repo()
    click.echo(f"initialised {repo.settings.data_dir.resolve()} ({repo.db.engine.dialect.name})")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 64), help="Request threads.")
@click.option("--worker/--no-worker", "with_worker", default=True, show_default=True,
              help="Also run one background `heritage worker` for ingest jobs.")
@pass_ctx
def serve(ctx: CliContext, host: str, port: int, threads: int, with_worker: bool) -> None:
    """Serve the web site (gunicorn) and, by default, one background worker."""
    from gunicorn.app.base import BaseApplication

    from web.app import create_app

    app = create_app(ctx.settings, ctx.repo)
    worker_proc = None
    if with_worker:
        worker_proc = subprocess.Popen([sys.executable, "-m", "web.cli", "worker"], env=_child_env(ctx))

    class Server(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", 1)
            self.cfg.set("threads", threads)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("timeout", 300)
            self.cfg.set("accesslog", "-")
            self.cfg.set("limit_request_line", 8190)

        def load(self):
            return app

    display = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    click.echo(f"Lingnan Heritage Repository: http://{display}:{port}/", err=True)
    try:
        Server().run()
    finally:
        if worker_proc is not None:
            worker_proc.terminate()
            worker_proc.wait(timeout=30)


def _child_env(ctx: CliContext) -> dict[str, str]:
    env = dict(os.environ)
    env["HERITAGE_DATA_DIR"] = str(ctx.settings.data_dir.resolve())
    if ctx.settings.config_file:
        env["HERITAGE_CONFIG"] = str(ctx.settings.config_file.resolve())
    return env


@click.command()
@click.option("--once", is_flag=True, help="Run the jobs waiting now, then exit.")
@click.option("--name", default=None, help="Worker name in job records (default: host:pid).")
@pass_ctx
def worker(ctx: CliContext, once: bool, name: str | None) -> None:
    """Run background jobs (OCR, transcodes, indexing) from the shared queue until stopped."""
    from ingest.worker import Worker

    Worker(ctx.repo, name=name).run(once=once)


@click.command()
@click.option("--fresh", is_flag=True, help="Remove the demo collection first and build it again.")
@pass_ctx
def demo(ctx: CliContext, fresh: bool) -> None:
    """Build the demo collection of real Cantonese / Lingnan material (no network needed)."""
    from ingest.demo import build_demo

    repo = ctx.create_repo()
    for line in build_demo(repo, fresh=fresh):
        click.echo(line)


@click.group()
def institution() -> None:
    """Contributing institutions (libraries)."""


@institution.command("add")
@click.argument("slug")
@click.option("--name", required=True, help="Display name, e.g. 廣州圖書館.")
@pass_ctx
def institution_add(ctx: CliContext, slug: str, name: str) -> None:
    """Add an institution SLUG."""
    from repository import catalog

    with ctx.repo.unit_of_work("cli") as uow:
        inst = catalog.add_institution(uow.session, slug, name)
    click.echo(inst.slug)


@click.group()
def collection() -> None:
    """Collections of items."""


@collection.command("add")
@click.argument("slug")
@click.option("--title", required=True, help="Title of the collection.")
@click.option("--institution", "institution_slug", default=None, help="Owning institution's slug.")
@click.option("--description", default="", help="A short description.")
@pass_ctx
def collection_add(ctx: CliContext, slug: str, title: str, institution_slug: str | None, description: str) -> None:
    """Add a collection SLUG."""
    from repository import catalog

    with ctx.repo.unit_of_work("cli") as uow:
        coll = catalog.add_collection(uow.session, slug, title, institution_slug=institution_slug,
                                      description=description)
    click.echo(coll.slug)


@click.group()
def user() -> None:
    """Staff accounts."""


@user.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["admin", "archivist"]), required=True, help="What the user may do.")
@click.option("--institution", "institution_slug", default=None, help="The archivist's institution.")
@click.option("--password", envvar="HERITAGE_NEW_PASSWORD", default=None,
              help="Password (default: asked for; or $HERITAGE_NEW_PASSWORD).")
@pass_ctx
def user_add(ctx: CliContext, name: str, role: str, institution_slug: str | None, password: str | None) -> None:
    """Add a staff user NAME."""
    from repository import catalog

    if password is None:
        if not sys.stdin.isatty():
            raise click.UsageError("no password: give --password or set HERITAGE_NEW_PASSWORD")
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with ctx.repo.unit_of_work("cli") as uow:
        u = catalog.add_user(uow.session, name, password, role, institution_slug)
    click.echo(u.name)
