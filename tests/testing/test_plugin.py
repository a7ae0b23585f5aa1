"""The pytest plugin: a user's test file uses the fixtures with no conftest, through the pytest11 entry point."""

from __future__ import annotations

import importlib.metadata
import inspect
import sys
import textwrap

import pytest

from procflow import hookspecs
from procflow.errors import NotCustodian, RetryableAdapterError, TransitionNotAllowed
from procflow.testing.adapters import RecordingAdapter

pytest_plugins = ["pytester"]

USER_TEST = '''
CHILD = {"child_name": "Nguyễn Văn An", "child_birth_date": "2026-04-18", "parent_national_id": "092123456789"}


def test_birth_registration_story(dossier_story, procflow_adapters):
    story = dossier_story("1.001193", filed_at="31135", data=CHILD)  # phường Ninh Kiều, Cần Thơ
    story.expect(status=2, custodian="receiving", sla="running", due="2026-04-20 17:00")
    story.fire("accept").fire("request_supplement").expect(status=5, sla="paused")
    story.wait(working_days=2).fire("resubmit").expect(sla="running", due="2026-04-22")
    story.refused("approve", by="31120")  # another ward: one custodian at a time
    story.fire("approve", data={"documents_complete": True}).fire("return_result")
    story.expect(status=10, on_time=True).deliver().expect_portal(2, 4, 5, 4, 9, 10)
    assert [m["status"] for m in procflow_adapters.messages("portal.status")] == [2, 4, 5, 4, 9, 10]


def test_clock_and_stores(procflow_clock, procflow_store, procflow_memory_store, procflow_registry):
    procflow_clock.jump_to("2026-04-29 16:00")
    assert procflow_clock.next_working_day().date().isoformat() == "2026-05-04"  # over 30/4, 1/5, the weekend
    assert procflow_store.path.endswith("procflow.db") and procflow_memory_store.path == ":memory:"
    assert len(procflow_registry.communes_of("92")) > 50
'''


def _entry_point_installed() -> bool:
    return any(ep.value == "procflow.testing.plugin" for ep in importlib.metadata.entry_points(group="pytest11"))


def test_a_users_test_file_needs_no_conftest(pytester, monkeypatch):
    if not _entry_point_installed():
        # not installed yet (the project's pyproject declares it): install the same entry point the way an
        # installed distribution does, so this still tests auto-loading, not a -p flag
        dist = pytester.path / "site" / "procflow_testing_plugin-0.dist-info"
        dist.mkdir(parents=True)
        (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: procflow-testing-plugin\nVersion: 0\n")
        (dist / "entry_points.txt").write_text("[pytest11]\nprocflow = procflow.testing.plugin\n")
        monkeypatch.syspath_prepend(str(dist.parent))
    pytester.makepyfile(test_user=USER_TEST)
    result = pytester.runpytest("-p", "no:cacheprovider", "-W", "error")
    result.assert_outcomes(passed=2)


def test_loading_the_plugin_imports_nothing_until_a_fixture_is_used():
    code = textwrap.dedent("""
        import sys
        import procflow
        import pytest  # loaded already in any pytest session
        before = set(sys.modules)
        import procflow.testing.plugin
        print(sorted(set(sys.modules) - before))
    """)
    import subprocess

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['procflow.testing', 'procflow.testing.plugin']"


def test_the_recording_adapter_implements_every_hook():
    specs = {name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("procflow_")}
    impls = {name for name in dir(RecordingAdapter) if name.startswith("procflow_")}
    # who officials are is not an adapter effect: a plugin implementing procflow_resolve_official becomes the
    # engine's identity provider (build_engine), so a recording stand-in would refuse every official
    assert specs - {"procflow_resolve_official"} == impls, f"hooks without a recording method: {sorted(specs - impls)}"


def test_recording_adapter_records_fails_and_dedupes(procflow_engine, procflow_adapters, procflow_deliver,
                                                      dossier_story):
    procflow_adapters.fail("procflow_deliver_status_sync", RetryableAdapterError("portal busy"), times=1)
    story = dossier_story("2.000720", filed_at="31135", data={
        "business_name": "Tiệm Cơm Cô Ba", "owner_name": "Lê Thị Ba", "owner_national_id": "092123456780",
        "business_address": "Số 5, Ninh Kiều"})
    story.deliver()
    failed = [c for c in procflow_adapters.called("procflow_deliver_status_sync") if c.error]
    assert len(failed) == 1 and "portal busy" in failed[0].error
    assert procflow_adapters.messages("portal.status") == []  # the retry waits for its backoff
    story.wait(hours=2).deliver()
    assert [m["status"] for m in procflow_adapters.messages("portal.status")] == [2]
    procflow_adapters.respond("procflow_resolve_citizen", {"full_name": "Lê Thị Ba"})
    assert procflow_adapters.procflow_resolve_citizen("092123456780", "2.000720", 1.0) == {"full_name": "Lê Thị Ba"}


def test_story_refusals_are_typed_and_leave_everything_unchanged(dossier_story):
    story = dossier_story("1.001193", filed_at="31135", data={
        "child_name": "Trần Văn Bình", "child_birth_date": "2026-04-10", "parent_national_id": "092000000001"})
    story.refused("approve", error=TransitionNotAllowed)  # not from 'received'
    story.refused("accept", by="31120", error=NotCustodian)  # another ward
    with pytest.raises(AssertionError, match="accepted; expected"):
        story.refused("accept")  # the right official: not refused
    with pytest.raises(AssertionError, match="portal status is 4, expected 10"):
        story.expect(status=10)
    story.expect_custody("receiving")


def test_working_clock_moves_in_working_days(procflow_clock):
    procflow_clock.at("14:00")
    assert procflow_clock.after_cutoff().strftime("%H:%M") == "15:01"
    assert procflow_clock.add_working_days(3, at="09:00").date().isoformat() == "2026-04-23"
    assert procflow_clock.next_working_day().date().isoformat() == "2026-04-24"
    with pytest.raises(ValueError, match="backwards"):
        procflow_clock.at("07:00")


GIVEN_TEST = '''
from hypothesis import given, settings, strategies as st

CHILD = {"child_name": "Nguyễn Văn An", "child_birth_date": "2026-04-18", "parent_national_id": "092123456789"}


@settings(max_examples=4, deadline=None)   # no suppress_health_check: the fixture must pass hypothesis' checks
@given(ward=st.sampled_from(["31135", "31120"]), wait=st.integers(0, 3))
def test_each_example_gets_a_new_engine(procflow_engine_factory, ward, wait):
    story = procflow_engine_factory.story("1.001193", filed_at=ward, data=CHILD)
    assert story.dossier.id.endswith("-0001")          # a new store each example: numbering starts again
    assert {r["dossier_id"] for r in story.engine.store.outbox()} == {story.dossier.id}
    story.fire("accept").fire("request_supplement").wait(working_days=wait).fire("resubmit")
    story.fire("approve", data={"documents_complete": True}).fire("return_result").expect(status=10)


def test_a_factory_engine_is_a_whole_engine(procflow_engine_factory):
    engine = procflow_engine_factory(procedures=["1.001193"])
    assert [d.code for d in engine.definitions()] == ["1.001193"]
    assert engine.clock.now().isoformat() == "2026-04-20T08:00:00+07:00"
'''


def test_the_session_factory_works_under_given(pytester):
    pytester.makepyfile(test_given=GIVEN_TEST)
    result = pytester.runpytest("-p", "no:cacheprovider", "-W", "error")
    result.assert_outcomes(passed=2)


def test_a_function_scoped_fixture_under_given_is_refused_by_hypothesis(pytester):
    """Why the factory exists: the same test with the function-scoped ``dossier_story`` fails the health check."""
    pytester.makepyfile(test_given='''
from hypothesis import given, strategies as st

@given(st.integers(0, 3))
def test_shared(dossier_story, n):
    pass
''')
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*function_scoped_fixture*"])


def test_every_fixture_says_what_it_gives_in_pytest_fixtures(pytester):
    from procflow.testing import plugin

    pytester.makepyfile(test_nothing="def test_nothing():\n    pass\n")
    result = pytester.runpytest("--fixtures", "-p", "no:cacheprovider")
    text = result.stdout.str()
    names = [n for n, f in vars(plugin).items() if n.startswith(("procflow_", "dossier_")) and callable(f)]
    assert len(names) >= 12
    for name in names:
        block = text.split(name, 1)[1].split("\n\n", 1)[0] if name in text else ""
        assert name in text and "no docstring available" not in block, f"{name} has no docstring in pytest --fixtures"
