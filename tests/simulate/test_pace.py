"""What keeps the simulator's cost per simulated day flat (issue 17) still gives the same run.

The checkpoint encodes each pending task once and keeps it until the task is taken; the footer reports wall
and CPU seconds per simulated day. These tests check behaviour only (no timings).
"""

from __future__ import annotations

from datetime import UTC, datetime

from procflow.cli.simulate import pace_line
from procflow.jurisdiction import Registry
from procflow.simulate import checkpoint
from procflow.simulate.job import run_simulation
from procflow.simulate.result import SimulationResult
from procflow.simulate.scenario import DEFAULT_PROFILES, Choice, Scenario


def _outliving_scenario() -> Scenario:
    """Citizens due back after their supplement request expired: tasks that outlive their dossier's state."""
    profiles = dict(DEFAULT_PROFILES)
    late = (Choice("resubmit", 1.0, "citizen", minutes=10, days=40),)
    profiles["2.000720"] = {**profiles["2.000720"], "supplement_requested": late,
                            "reviewing": (Choice("request_supplement", 1.0, minutes=15),)}
    return Scenario(province="Lai Châu", days=40, seed=2, dossiers_per_commune_day=0.3, commit_every=50,
                    procedure_mix={"2.000720": 1.0}, profiles=profiles)


def test_every_checkpoint_holds_exactly_the_pending_tasks_as_they_stand(tmp_path, monkeypatch):
    """Tasks are encoded once and reused in later checkpoints: each checkpoint must still decode to the very
    tasks pending at its commit — same moments, dossiers and choices — also for a task whose dossier a timer
    moved to another state since it was decided."""
    original = checkpoint.save
    sizes: list[int] = []
    moved: list[int] = []

    def save(sim, *, finished):
        original(sim, finished=finished)
        _, state = sim.tables.load_checkpoint()
        live = {p[0].id: p[0] for _, _, kind, p in sim._heap if kind in ("ready", "fire")}
        stored = sorted((ts, seq, kind, checkpoint._decode(sim, kind, p, live)) for ts, seq, kind, p in state["heap"])
        pending = sorted(sim._heap)
        assert [e[:3] for e in stored] == [e[:3] for e in pending]
        for (_, _, kind, got), (_, _, _, want) in zip(stored, pending, strict=True):
            if kind in ("ready", "fire"):
                assert got[0] is want[0] and got[1] is want[1] and got[2:] == want[2:]
                moved.append(want[1] not in sim.sc.profiles[want[0].procedure].get(want[0].state, ()))
            else:
                assert got == tuple(want)
        sizes.append(len(pending))

    monkeypatch.setattr(checkpoint, "save", save)
    _, report, engine = run_simulation(_outliving_scenario(), str(tmp_path / "sim.db"))
    engine.store.close()
    assert len(sizes) > 10 and max(sizes) > 0 and sizes[-1] == 0  # the last one (finished) has nothing pending
    assert report.extra["timers"]["supplements_expired"] > 0 and any(moved)


def test_the_footer_gives_wall_and_cpu_seconds_per_day_and_their_growth_since_day_10():
    t = datetime(2026, 4, 20, tzinfo=UTC)
    result = SimulationResult(scenario=Scenario(), province=Registry.default().province("92"), start=t, end=t)
    result.day_clock = [float(i) for i in range(101)] + [100.0 + 1.5 * i for i in range(1, 201)]
    result.day_cpu = [0.5 * i for i in range(301)]
    line = pace_line(result)
    assert "day 10 1.00 s (0.50 s CPU)" in line and "day 100 1.00 s (0.50 s CPU)" in line
    assert "day 300 1.50 s (0.50 s CPU)" in line and "day 300 / day 10: 1.50× wall, 1.00× CPU" in line
    assert result.pace(300, cpu=True) == 0.5
    short = SimulationResult(scenario=Scenario(), province=Registry.default().province("92"), start=t, end=t)
    short.day_clock = [0.0, 1.0]
    assert pace_line(short) == ""  # day 10 not reached: no line


def test_the_footer_judges_day_300_against_the_target_and_gives_cpu_per_write():
    """Day 300 against day 10 is judged against issue 17's ≤ 1.3× (met or missed); CPU per engine write sets
    a lighter week's load apart from a higher cost per write."""
    t = datetime(2026, 4, 20, tzinfo=UTC)

    def run(cpu_per_day_late: float, work_per_day_late: int) -> str:
        r = SimulationResult(scenario=Scenario(), province=Registry.default().province("92"), start=t, end=t)
        r.day_clock = [float(i) for i in range(301)]
        r.day_cpu = [1.0 * i for i in range(101)] + [100.0 + cpu_per_day_late * i for i in range(1, 201)]
        r.day_work = [1000 * i for i in range(101)] + [100_000 + work_per_day_late * i for i in range(1, 201)]
        return pace_line(r)

    flat = run(1.2, 1200)  # 20 % more work a day, same cost per write
    assert "day 300 / day 10: 1.00× wall, 1.20× CPU (target ≤ 1.3×: met)" in flat
    assert "CPU per filing/transition: day 10 1.00 ms, day 300 1.00 ms (1.00×)" in flat
    grown = run(1.5, 1000)  # the same work a day, each write half as dear again
    assert "1.50× CPU (target ≤ 1.3×: missed)" in grown and "day 300 1.50 ms (1.50×)" in grown
    short = SimulationResult(scenario=Scenario(), province=Registry.default().province("92"), start=t, end=t)
    short.day_clock = [float(i) for i in range(31)]
    short.day_cpu = [float(i) for i in range(31)]
    assert "target" not in pace_line(short)  # judged at day 300 only; no write counts: no per-write figure
    assert "per filing" not in pace_line(short)
