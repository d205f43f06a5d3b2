"""Autogenerate an Alembic revision from the difference between models and migrations.

Usage: python scripts/new_migration.py "message"   (uses a scratch SQLite database)
"""
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alembic import command  # noqa: E402

from repository.db import Database  # noqa: E402

with tempfile.TemporaryDirectory() as tmp:
    db = Database(f"sqlite:///{tmp}/scratch.db")
    cfg = db.alembic_config()
    command.upgrade(cfg, "head")
    command.revision(cfg, message=sys.argv[1] if len(sys.argv) > 1 else "change", autogenerate=True)
