"""Fixtures of the fault suite; prints the table of figures at the end of the run."""
from __future__ import annotations

import pytest


def pytest_configure(config):
    from tests.faults import figures

    figures.register(config)


@pytest.fixture
def record_figure(request):
    """record_figure(name, value): a line in the summary table at the end of the run."""
    from tests.faults import figures

    return figures.make_recorder(request)
