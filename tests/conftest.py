"""Hypothesis profiles: `default` stays quick for CI; MINIGRAD_HYPOTHESIS_PROFILE=thorough draws many more."""
import importlib.util
import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("default", max_examples=12, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("thorough", max_examples=300, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("MINIGRAD_HYPOTHESIS_PROFILE", "default"))


def _torch_missing():
    try:
        return importlib.util.find_spec("torch") is None
    except (ImportError, ValueError):
        return True


TORCH_HINT = "pip install torch==2.13.0 to run them"


def pytest_report_header(config):
    if _torch_missing():
        return f"PyTorch not installed: the tests that compare with it (the oracle) are skipped; {TORCH_HINT}"
    return None


@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    # without PyTorch, list skip reasons as -rs does (unless -r already shows them or -rN hides all)
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and _torch_missing() and not set(reporter.reportchars) & set("sSaAN"):
        reporter.reportchars += "s"


def pytest_terminal_summary(terminalreporter):
    if not _torch_missing():
        return
    skipped = [report for report in terminalreporter.stats.get("skipped", [])
               if isinstance(report.longrepr, tuple) and "'torch'" in str(report.longrepr[-1])]
    if skipped:
        count = f"{len(skipped)} oracle comparison{'s' if len(skipped) != 1 else ''}"
        terminalreporter.write_line(f"PyTorch not installed: {count} skipped; {TORCH_HINT}")
