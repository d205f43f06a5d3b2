"""The Alembic migrations create exactly the schema the models describe."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from repository.models import Base


def test_models_and_migrations_agree(repo):
    with repo.db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == [], f"run: python scripts/new_migration.py 'message'  — differences: {diff}"
