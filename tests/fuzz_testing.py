"""What the fuzz tests (#28) share: the Hypothesis profile, the per-case time limit, and the report.

Each category runs at least `MIN_CASES` derandomised cases. `report` prints a category's
counts and merges them into `REPORT` (a JSON file in the temporary directory), so a run's
numbers (cases per category, crafted payloads that reached the entropy decoder) can be read
after it, with or without ``-s``.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, settings

__all__ = ["FUZZ", "CASE_SECONDS", "MIN_CASES", "REPORT", "report"]

settings.register_profile(
    "lvc_zoo_fuzz", max_examples=100, derandomize=True, deadline=None, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
FUZZ = settings.get_profile("lvc_zoo_fuzz")
CASE_SECONDS = 10.0
MIN_CASES = 100
REPORT = Path(tempfile.gettempdir()) / "lvc_zoo_fuzz_report.json"


def report(category: str, cases: int, **counts: object) -> None:
    """Print `category`'s case count and other `counts`, record them in `REPORT`, and require `MIN_CASES` cases."""
    extra = "".join(f", {name.replace('_', ' ')} {value}" for name, value in counts.items())
    print(f"\n{category}: {cases} cases{extra}")
    try:
        recorded = json.loads(REPORT.read_text())
    except (OSError, ValueError):
        recorded = {}
    recorded[category] = {"cases": cases, **counts}
    REPORT.write_text(json.dumps(recorded, indent=1, sort_keys=True))
    assert cases >= MIN_CASES, f"{category}: only {cases} cases"
