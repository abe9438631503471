"""Where a whole-graph daily `autoindex run` spends its time, and what it redraws.

    python benchmarks/daily_profile.py                 # 1 y x 40 symbols
    python benchmarks/daily_profile.py --years 5 --symbols 513

Builds a deployment as ``goals.py`` does (PostgreSQL warehouse and Dagster storage, sample
provider, the demo's audited overrides), backfills ``--years`` as one `autoindex run`, then runs
the next session's daily run twice under cProfile, each as its own process: the first with the
new session, the second with nothing new (what a re-run or a second schedule tick costs). Prints
each run's wall time, the cumulative seconds of the parts issue 14 names (report charts, the UI
chart, the index check, the quality report, the GX import and checks) and how many report
charts were drawn. The load average is printed beside each run.
"""

from __future__ import annotations

import argparse
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from goals import AUTOINDEX, Deployment, _day, _history, _load

# (label, file suffix, function name) of the parts to report, by cumulative time.
PARTS = (
    ("performance_reports asset", "defs/reports/assets.py", "performance_reports"),
    ("  report charts drawn", "reporting/charts.py", "render_chart_png"),
    ("  UI chart (chart_markdown)", "reporting/charts.py", "chart_markdown"),
    ("index_assets (index, checks, figures)", "defs/strategy/assets.py", "index_assets"),
    ("  index checks (evaluate_index)", "services/index_checks.py", "evaluate_index"),
    ("quality report (build_quality_report)", "services/quality_report.py", "build_quality_report"),
    ("GX runtime (import + context)", "services/gx.py", "__init__"),
    ("GX validations (validate_frame)", "services/gx.py", "validate_frame"),
)


def _parts(profile: Path) -> list[tuple[str, int, float]]:
    stats = pstats.Stats(str(profile)).stats  # {(file, line, name): (cc, nc, tt, ct, callers)}
    out = []
    for label, suffix, name in PARTS:
        calls, seconds = 0, 0.0
        for (file, _, func), (_, nc, _, ct, _) in stats.items():
            if func == name and file.endswith(suffix):
                calls, seconds = calls + nc, seconds + ct
        out.append((label, calls, seconds))
    return out


def _top(profile: Path, n: int) -> list[tuple[str, float]]:
    """The package's own functions (not Dagster's, not the CLI's wrappers) by cumulative time."""
    stats = pstats.Stats(str(profile)).stats
    mine = [(f"{file.split('autoindex_pipeline/', 1)[1]}:{func}", ct) for (file, _, func), (_, _, _, ct, _) in stats.items()
            if "autoindex_pipeline/" in file and "/cli/" not in file and func != "<module>"]
    return sorted(mine, key=lambda x: -x[1])[:n]


def _run_profiled(deployment: Deployment, profile: Path, *args: str) -> None:
    """`autoindex run ARGS` under cProfile in its own process, profile written to ``profile``."""
    done = subprocess.run([sys.executable, "-m", "cProfile", "-o", str(profile), str(AUTOINDEX), "run",
                           "--config", str(deployment.config_path), *args], env=deployment.env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"autoindex run {' '.join(args)} failed ({done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-2000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--years", type=float, default=1.0)
    parser.add_argument("--symbols", type=int, default=40)
    parser.add_argument("--top", type=int, default=15, help="also list this many of the package's functions by cumulative time")
    parser.add_argument("--keep", type=Path, help="keep the two profiles in this folder (for snakeviz, pstats)")
    args = parser.parse_args()
    deployment = Deployment("profile", args.symbols)
    work = Path(tempfile.mkdtemp(prefix="autoindex-profile-"))
    try:
        sessions = _history(args.years)
        history, last = sessions[:-1], sessions[-1]
        deployment.audit_sample_faults(sessions[0], sessions[-1])
        seconds, _, _ = deployment.run("--start", _day(history[0]), "--end", _day(history[-1]))
        print(f"backfill {args.years:g} y x {len(deployment.config().symbols)} symbols: {seconds:.1f} s ({_load()})")
        for n, label in enumerate(("daily run, one new session", "same daily run again, nothing new")):
            profile = work / f"daily_{n + 1}.prof"
            started = time.perf_counter()
            _run_profiled(deployment, profile, "--start", _day(last), "--end", _day(last))
            print(f"\n{label}: {time.perf_counter() - started:.1f} s under cProfile ({_load()})")
            for part, calls, cumulative in _parts(profile):
                print(f"  {part:<42} {cumulative:6.2f} s  ({calls} call{'s' if calls != 1 else ''})")
            if args.top:
                print(f"  the package's top {args.top} by cumulative time:")
                for name, cumulative in _top(profile, args.top):
                    print(f"    {cumulative:6.2f} s  {name}")
            if args.keep:
                args.keep.mkdir(parents=True, exist_ok=True)
                shutil.copy(profile, args.keep / profile.name)
    finally:
        deployment.drop()
        for path in work.glob("*"):
            path.unlink()
        work.rmdir()


if __name__ == "__main__":
    main()
