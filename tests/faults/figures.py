"""The summary table of fault-suite and scale-out figures printed at the end of a pytest run.

Tests call the ``record_figure(name, value)`` fixture; the figure travels on the test report's
``user_properties`` (so it also reaches the controller under pytest-xdist) and
:class:`FiguresPlugin` prints every figure in one table in the terminal summary.

Under ``pytest -n 2 tests`` the xdist controller does not load conftest files below
``tests/`` (pytest loads only ``tests/test*/conftest.py`` up front), so it cannot print the
table; then each xdist worker prints the table of the figures it recorded to the terminal's
stderr when its session ends (the controller tells workers when it prints the table itself).
"""
from __future__ import annotations

import sys

import pytest

KEY = "heritage-figure"
COUNT_KEY = "heritage-count"
PLUGIN_NAME = "heritage-fault-figures"


class FiguresPlugin:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str]] = []
        self.counts: dict[str, dict[str, int]] = {}

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report) -> None:
        if report.when != "call" and not (report.when == "setup" and report.outcome != "passed"):
            return
        for key, value in getattr(report, "user_properties", []):
            if key == COUNT_KEY:
                c = self.counts.setdefault(value, {"passed": 0, "failed": 0, "skipped": 0})
                c[report.outcome] = c.get(report.outcome, 0) + 1
            elif key == KEY and report.when == "call":
                name, figure = value
                self.rows.append((name, figure, report.outcome))

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node) -> None:  # xdist controller: "I print the table"
        node.workerinput["heritage_figures_on_controller"] = True

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session) -> None:
        workerinput = getattr(session.config, "workerinput", None)
        if workerinput is None or workerinput.get("heritage_figures_on_controller"):
            return
        lines = self.table()
        if lines:
            out = sys.__stderr__
            out.write(f"\n==== Lingnan Heritage fault suite / scale-out figures (xdist {workerinput.get('workerid')}) ====\n")
            out.write("\n".join(lines) + "\n")
            out.flush()

    def table(self) -> list[str]:
        rows = list(self.rows)
        for name, c in sorted(self.counts.items()):
            total = sum(c.values())
            rows.append((name, f"{total} cases: {c['passed']} passed, {c['failed']} failed, "
                               f"{c['skipped']} skipped", "passed"))
        if not rows:
            return []
        width = min(70, max(len(r[0]) for r in rows))
        return [f"{name[:width]:<{width}}  {figure}{'' if outcome == 'passed' else f'  [{outcome.upper()}]'}"
                for name, figure, outcome in sorted(rows)]

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter) -> None:
        lines = self.table()
        if not lines:
            return
        tr = terminalreporter
        tr.section("Lingnan Heritage fault suite / scale-out figures")
        for line in lines:
            tr.write_line(line)


def register(config) -> None:
    """Register the plugin once per process (several conftests may ask)."""
    if not config.pluginmanager.has_plugin(PLUGIN_NAME):
        config.pluginmanager.register(FiguresPlugin(), PLUGIN_NAME)


def make_recorder(request):
    """The ``record_figure(name, value)`` function for one test."""

    def record(name: str, value: str) -> None:
        request.node.user_properties.append((KEY, (name, str(value))))

    return record


def make_counter(request):
    """``count(name)``: this test is one case of the family ``name`` (counted by outcome)."""

    def count(name: str) -> None:
        request.node.user_properties.append((COUNT_KEY, name))

    return count
