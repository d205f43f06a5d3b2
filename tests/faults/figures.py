"""The summary table of fault-suite and scale-out figures printed at the end of a pytest run.

Tests call the ``record_figure(name, value)`` fixture; the figure travels on the test report's
``user_properties`` (so it also reaches the controller under pytest-xdist) and
:class:`FiguresPlugin` prints every figure in one table in the terminal summary.
"""
from __future__ import annotations

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

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter) -> None:
        if not self.rows and not self.counts:
            return
        tr = terminalreporter
        tr.section("Lingnan Heritage fault suite / scale-out figures")
        for name, c in sorted(self.counts.items()):
            total = sum(c.values())
            self.rows.append((name, f"{total} cases: {c['passed']} passed, {c['failed']} failed, "
                                    f"{c['skipped']} skipped", "passed"))
        width = min(70, max(len(r[0]) for r in self.rows))
        for name, figure, outcome in sorted(self.rows):
            mark = "" if outcome == "passed" else f"  [{outcome.upper()}]"
            tr.write_line(f"{name[:width]:<{width}}  {figure}{mark}")


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
