"""Working calendar and SLA clock: concrete Vietnamese facts first, then properties."""

from __future__ import annotations

import warnings
from datetime import UTC, date, datetime, time, timedelta

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from procflow.calendar import WorkingCalendar
from procflow.errors import CalendarError, CalendarWarning
from procflow.officehours import VN_TZ, OfficeHours
from procflow.schedule import CALENDAR_FILE_ENV, load_schedule, shipped_schedule
from procflow.sla import ClockPolicy, SlaClock

CAL = WorkingCalendar()
FIRST_YEAR = CAL.supported_years[0]
LAST_YEAR = CAL.supported_years[-1]
HOUR = 3600.0


def vn(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=VN_TZ)


# -- concrete facts --------------------------------------------------------------------------------


def test_supported_years_are_the_years_the_shipped_schedule_covers() -> None:
    assert 2025 in CAL.supported_years
    assert 2026 in CAL.supported_years
    assert CAL.covered_years == shipped_schedule().covered


# -- the law's examples (Civil Code 2015 art. 147: the day of receipt is not counted) ---------------


@pytest.mark.parametrize(("received", "n", "due"), [
    (vn(2026, 4, 20, 9, 0), 3, vn(2026, 4, 23, 17, 0)),    # Mon 09:00 + 3 → Thu
    (vn(2026, 5, 8, 9, 0), 1, vn(2026, 5, 11, 17, 0)),     # Fri 09:00 + 1 → Mon
    (vn(2026, 5, 12, 16, 0), 2, vn(2026, 5, 15, 17, 0)),   # Tue 16:00: received Wed, count Thu, Fri
    (vn(2026, 5, 12, 9, 0), 0, vn(2026, 5, 12, 17, 0)),    # same day
    (vn(2026, 5, 12, 16, 0), 0, vn(2026, 5, 13, 17, 0)),   # same day, after the cut-off
    (vn(2026, 5, 9, 10, 0), 1, vn(2026, 5, 12, 17, 0)),    # Saturday: received Monday, due Tuesday
    (vn(2025, 12, 31, 9, 0), 1, vn(2026, 1, 5, 17, 0)),    # 1 and 2 January 2026 are off (12729/VPCP-KGVX)
    (vn(2026, 1, 9, 9, 0), 1, vn(2026, 1, 10, 17, 0)),     # Saturday 10 January 2026 is worked
])
def test_the_law_s_examples(received: datetime, n: int, due: datetime) -> None:
    assert CAL.due_at(received, n) == due


def test_receipt_day_and_counting_start() -> None:
    assert CAL.receipt_day(vn(2026, 5, 12, 16, 0)) == date(2026, 5, 13)
    assert CAL.counting_start(vn(2026, 5, 12, 16, 0)) == date(2026, 5, 14)
    assert CAL.counting_start(vn(2026, 4, 20, 9, 0)) == date(2026, 4, 21)
    assert CAL.working_days_taken(vn(2026, 4, 20, 9, 0), vn(2026, 4, 23, 16, 0)) == 3
    assert CAL.working_days_taken(vn(2026, 4, 20, 9, 0), vn(2026, 4, 20, 16, 0)) == 0


def test_explain_due_gives_the_reasoning_with_sources() -> None:
    lines = CAL.explain_due(vn(2025, 12, 31, 15, 30), 1)
    text = "\n".join(lines)
    assert "after the 15:00 cut-off" in text
    assert "12729/VPCP-KGVX" in text  # why Friday 2 January is skipped
    assert "effective receipt day: Mon 2026-01-05" in text
    assert lines[-1].startswith("due: Tue 2026-01-06 17:00")


# -- the shipped day-off schedule --------------------------------------------------------------------

# Where the shipped schedule and the `holidays` library disagree, the schedule wins. Each disagreement,
# with the document that decides it; a new `holidays` release that fixes one makes this test say so.
DISAGREEMENTS = {
    date(2026, 1, 2): ("off", "12729/VPCP-KGVX"),     # New Year swap: Friday off ...
    date(2026, 1, 10): ("worked", "12729/VPCP-KGVX"),  # ... Saturday worked in exchange
}


def test_disagreements_with_the_holidays_library_are_listed_with_their_source() -> None:
    library = holidays.country_holidays("VN", years=sorted(CAL.covered_years))
    found = {}
    for year in sorted(CAL.covered_years):
        d = date(year, 1, 1)
        while d.year == year:
            if CAL.is_working_day(d) != library.is_working_day(d):
                entry = CAL.decided(d)
                assert entry is not None, f"{d}: differs from `holidays` without a decided entry"
                found[d] = (entry.kind, entry.document)
            d += timedelta(days=1)
    assert found == DISAGREEMENTS


def test_the_2026_schedule_has_its_documented_days() -> None:
    assert not CAL.is_working_day(date(2026, 1, 2))
    assert CAL.is_working_day(date(2026, 1, 10))
    assert CAL.decided(date(2026, 1, 2)).document == "12729/VPCP-KGVX"
    assert CAL.decided(date(2026, 1, 2)).document_date == date(2025, 12, 25)
    for day in range(14, 23):  # Tết Bính Ngọ: Saturday 14 – Sunday 22 February 2026
        assert not CAL.is_working_day(date(2026, 2, day))
    assert CAL.is_working_day(date(2026, 8, 22)) and not CAL.is_working_day(date(2026, 8, 31))
    assert not CAL.is_working_day(date(2026, 4, 27))  # Hùng Kings' day fell on a Sunday
    every = shipped_schedule().entries
    assert all(e.document and e.reason for e in every)


def test_a_province_file_adds_local_days_off(tmp_path, monkeypatch) -> None:
    f = tmp_path / "can-tho.toml"
    f.write_text('[[day]]\ndate = 2026-03-11\nkind = "off"\nreason = "Ngày giải phóng (địa phương)"\n'
                 'document = "QĐ 1/UBND"\n', encoding="utf-8")
    monkeypatch.setenv(CALENDAR_FILE_ENV, str(f))
    local = WorkingCalendar()
    assert not local.is_working_day(date(2026, 3, 11))
    assert local.decided(date(2026, 3, 11)).origin == str(f)
    assert local.due_at(vn(2026, 3, 10, 9, 0), 1) == vn(2026, 3, 12, 17, 0)
    assert CAL.is_working_day(date(2026, 3, 11))


@pytest.mark.parametrize(("body", "message"), [
    ('[[day]]\ndate = 2026-03-11\nkind = "holiday"\nreason = "x"\ndocument = "y"\n', "kind"),
    ('[[day]]\ndate = 2026-03-11\nkind = "worked"\nreason = "x"\ndocument = "y"\n', "weekday"),
    ('[[day]]\ndate = 2026-03-11\nkind = "off"\ndocument = "y"\n', "reason"),
    ('[[day]]\ndate = 2026-03-11\nkind = "off"\nreason = "x"\n', "document"),
    ('[[day]]\ndate = "2026-03-11"\nkind = "off"\nreason = "x"\ndocument = "y"\n', "date"),
    ('[[day]]\ndate = 2126-03-11\nkind = "off"\nreason = "x"\ndocument = "y"\n', "2000"),
    ('[[day]]\ndate = 2026-03-11\nkind = "off"\nreason = "x"\ndocument = "y"\n' * 2, "twice"),
    ('[[day]]\ndate = 2026-03-11\nkind = "off"\nreason = "x"\ndocument = "y"\ncolour = 1\n', "colour"),
    ("not toml = = =", "TOML"),
])
def test_bad_calendar_files_are_refused_naming_the_entry(tmp_path, body: str, message: str) -> None:
    f = tmp_path / "bad.toml"
    f.write_text(body, encoding="utf-8")
    with pytest.raises(CalendarError, match=message) as err:
        load_schedule(f)
    assert str(f) in str(err.value)


def test_tet_2026_is_not_worked() -> None:
    for day in range(16, 21):  # Mon 16 – Fri 20 February 2026
        assert not CAL.is_working_day(date(2026, 2, day))
    assert CAL.is_working_day(date(2026, 2, 13))
    assert CAL.next_working_day(date(2026, 2, 13)) == date(2026, 2, 23)


def test_substituted_saturdays_and_days_off() -> None:
    assert CAL.is_working_day(date(2026, 8, 22))  # Saturday worked in exchange
    assert not CAL.is_working_day(date(2026, 8, 31))  # the Monday it bought
    assert CAL.is_working_day(date(2025, 4, 26))
    assert not CAL.is_working_day(date(2025, 5, 2))
    assert not CAL.is_working_day(date(2026, 8, 29))  # an ordinary Saturday


def test_friday_after_cutoff_before_tet_is_due_after_tet() -> None:
    due = CAL.due_at(vn(2026, 2, 13, 16, 0), 1)
    assert due == vn(2026, 2, 24, 17, 0)  # received Mon 23 (after Tết), counted from Tue 24
    assert due.utcoffset() == timedelta(hours=7)


def test_cutoff_splits_the_day() -> None:
    assert CAL.receipt_day(vn(2026, 3, 10, 14, 59)) == date(2026, 3, 10)
    assert CAL.receipt_day(vn(2026, 3, 10, 15, 1)) == date(2026, 3, 11)
    assert CAL.receipt_day(vn(2026, 3, 10, 15, 0)) == date(2026, 3, 11)  # "before" the cut-off is strict
    assert CAL.receipt_day(vn(2026, 3, 13, 15, 1)) == date(2026, 3, 16)  # Friday → Monday
    assert CAL.receipt_day(vn(2026, 3, 14, 9, 0)) == date(2026, 3, 16)  # Saturday → Monday
    assert CAL.due_at(vn(2026, 3, 10, 14, 59), 3) == vn(2026, 3, 13, 17, 0)
    assert CAL.due_at(vn(2026, 3, 10, 15, 1), 3) == vn(2026, 3, 16, 17, 0)


def test_same_day_limit() -> None:
    assert CAL.due_at(vn(2026, 3, 10, 9, 0), 0) == vn(2026, 3, 10, 17, 0)
    assert CAL.due_at(vn(2026, 3, 10, 16, 0), 0) == vn(2026, 3, 11, 17, 0)
    assert CAL.due_at(vn(2026, 3, 14, 9, 0), 0) == vn(2026, 3, 16, 17, 0)


def test_inputs_in_other_time_zones_are_converted() -> None:
    # 08:30 UTC is 15:30 in Hanoi: after the cut-off, although "before 15:00" in UTC.
    received = datetime(2026, 3, 10, 8, 30, tzinfo=UTC)
    assert CAL.receipt_day(received) == date(2026, 3, 11)
    assert CAL.due_at(received, 2) == vn(2026, 3, 13, 17, 0)


def test_extra_days_off_is_the_province_seam() -> None:
    local = WorkingCalendar(extra_days_off=[date(2026, 3, 11)])
    assert not local.is_working_day(date(2026, 3, 11))
    assert CAL.is_working_day(date(2026, 3, 11))
    assert local.due_at(vn(2026, 3, 10, 9, 0), 3) == vn(2026, 3, 16, 17, 0)
    assert CAL.due_at(vn(2026, 3, 10, 9, 0), 3) == vn(2026, 3, 13, 17, 0)


def test_extra_working_days_and_clashes() -> None:
    local = WorkingCalendar(extra_working_days=[date(2026, 3, 14)])
    assert local.is_working_day(date(2026, 3, 14))
    assert local.receipt_day(vn(2026, 3, 13, 16, 0)) == date(2026, 3, 14)
    with pytest.raises(CalendarError, match="2026-03-14"):
        WorkingCalendar(extra_days_off=[date(2026, 3, 14)], extra_working_days=[date(2026, 3, 14)])


def test_add_and_count_working_days_across_tet_and_new_year() -> None:
    assert CAL.add_working_days(date(2026, 2, 13), 2) == date(2026, 2, 23)
    assert CAL.add_working_days(date(2026, 2, 14), 0) == date(2026, 2, 16 + 7)
    assert CAL.add_working_days(date(2025, 12, 31), 2) == date(2026, 1, 5)  # 1 and 2 January 2026 are off
    assert CAL.working_days_between(date(2026, 2, 9), date(2026, 2, 23)) == 5
    assert CAL.working_days_between(date(2025, 12, 29), date(2026, 1, 5)) == 3  # Mon–Wed; 1–2 Jan off
    assert CAL.working_days_between(date(2026, 3, 10), date(2026, 3, 10)) == 0
    with pytest.raises(CalendarError):
        CAL.add_working_days(date(2026, 3, 10), -1)


def test_working_seconds_count_office_hours_only() -> None:
    assert CAL.working_seconds_between(vn(2026, 3, 10, 11, 0), vn(2026, 3, 10, 14, 0)) == HOUR
    assert CAL.working_seconds_between(vn(2026, 3, 13, 16, 0), vn(2026, 3, 16, 8, 30)) == 2 * HOUR
    assert CAL.working_seconds_between(vn(2026, 3, 10, 9), vn(2026, 3, 11, 9)) == 7.5 * HOUR
    # the whole of Tết plus its weekends: only Friday's last hour counts
    assert CAL.working_seconds_between(vn(2026, 2, 13, 16), vn(2026, 2, 23, 7, 0)) == HOUR
    assert CAL.working_seconds_between(vn(2026, 3, 11), vn(2026, 3, 10)) == 0


def test_extend_by_office_time() -> None:
    due = vn(2026, 3, 17, 17, 0)  # Tuesday close
    # paused Monday 16:00, resumed Tuesday 08:00: 1 h + 0.5 h of office time
    assert CAL.extend(due, vn(2026, 3, 16, 16, 0), vn(2026, 3, 17, 8, 0)) == vn(2026, 3, 18, 9, 0)
    # a pause exactly one office day long ends at a close, not at the next opening
    assert CAL.extend(due, vn(2026, 3, 16, 9, 0), vn(2026, 3, 17, 9, 0)) == vn(2026, 3, 18, 17, 0)
    # over a weekend and over Tết nothing is owed
    assert CAL.extend(due, vn(2026, 3, 13, 17, 0), vn(2026, 3, 16, 7, 30)) == due
    assert CAL.extend(due, vn(2026, 2, 14, 9, 0), vn(2026, 2, 22, 20, 0)) == due


def test_working_days_late() -> None:
    due = vn(2026, 3, 13, 17, 0)  # Friday close
    assert CAL.working_days_late(due, vn(2026, 3, 13, 16, 0)) == 0
    assert CAL.working_days_late(due, due) == 0
    assert CAL.working_days_late(due, vn(2026, 3, 14, 10, 0)) == 1  # Saturday: late is late
    assert CAL.working_days_late(due, vn(2026, 3, 16, 8, 0)) == 1
    assert CAL.working_days_late(due, vn(2026, 3, 17, 8, 0)) == 2


def test_naive_datetimes_are_refused_by_name() -> None:
    naive = datetime(2026, 3, 10, 9, 0)
    with pytest.raises(CalendarError, match="received_at"):
        CAL.due_at(naive, 1)
    with pytest.raises(CalendarError, match="received_at"):
        CAL.receipt_day(naive)
    with pytest.raises(CalendarError, match=r"\bb\b"):
        CAL.working_seconds_between(vn(2026, 3, 10), naive)
    with pytest.raises(CalendarError, match="resumed_at"):
        CAL.extend(vn(2026, 3, 12, 17), vn(2026, 3, 10), naive)
    with pytest.raises(CalendarError, match="paused_at"):
        CAL.extend(vn(2026, 3, 12, 17), naive, vn(2026, 3, 10))
    with pytest.raises(CalendarError, match="naive"):
        SlaClock.start(CAL, vn(2026, 3, 10, 9), 3).pause(naive)
    with pytest.raises(CalendarError, match="due_at"):
        SlaClock(3, started_at=vn(2026, 3, 10), due_at=naive)
    with pytest.raises(CalendarError, match="must be a date"):
        CAL.is_working_day(vn(2026, 3, 10))  # type: ignore[arg-type]


def test_years_the_schedule_does_not_cover_warn_once_and_still_count() -> None:
    cal = WorkingCalendar()
    year = LAST_YEAR + 5
    with pytest.warns(CalendarWarning, match=str(year)):
        assert not cal.is_working_day(date(year, 1, 1))  # New Year's Day is fixed, still known
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cal.is_working_day(date(year, 3, 3))
        cal.add_working_days(date(year, 3, 3), 5)
    assert caught == []
    with pytest.warns(CalendarWarning, match=str(FIRST_YEAR - 3)):
        cal.is_working_day(date(FIRST_YEAR - 3, 6, 1))
    with pytest.warns(CalendarWarning, match="PROCFLOW_CALENDAR_FILE"):
        cal.is_working_day(date(FIRST_YEAR - 4, 6, 1))


def test_office_hours_are_validated() -> None:
    assert OfficeHours().cutoff == time(15, 0)
    with pytest.raises(CalendarError, match="sessions"):
        OfficeHours(sessions=((time(8), time(12)), (time(11), time(17))))
    with pytest.raises(CalendarError, match="sessions"):
        OfficeHours(sessions=((time(12), time(8)),))
    with pytest.raises(CalendarError, match="sessions"):
        OfficeHours(sessions=())


def test_custom_office_hours_move_close_and_cutoff() -> None:
    cal = WorkingCalendar(office_hours=OfficeHours(sessions=((time(8), time(16)),), cutoff=time(12)))
    assert cal.close_of(date(2026, 3, 10)) == vn(2026, 3, 10, 16, 0)
    assert cal.due_at(vn(2026, 3, 10, 12, 30), 0) == vn(2026, 3, 11, 16, 0)
    assert cal.working_seconds_between(vn(2026, 3, 10), vn(2026, 3, 11)) == 8 * HOUR


# -- the SLA clock ---------------------------------------------------------------------------------


def test_clock_lifecycle() -> None:
    clock = SlaClock.start(CAL, vn(2026, 3, 10, 9, 0), 3)
    assert clock.running and not clock.paused and not clock.stopped
    assert clock.due_at == vn(2026, 3, 13, 17, 0)
    assert clock.remaining_working_days(CAL, vn(2026, 3, 10, 9, 5)) == 4  # today still counts until it closes
    assert clock.remaining_working_days(CAL, vn(2026, 3, 10, 17, 30)) == 3
    assert not clock.is_overdue(vn(2026, 3, 13, 16, 59))
    assert clock.is_overdue(vn(2026, 3, 14, 8, 0))
    assert clock.remaining_working_days(CAL, vn(2026, 3, 17, 8, 0)) == -2

    paused = clock.pause(vn(2026, 3, 11, 10, 0))
    assert paused.paused and not paused.running
    assert paused.pause(vn(2026, 3, 11, 11, 0)) == paused  # idempotent
    assert not paused.is_overdue(vn(2026, 4, 30, 9, 0))  # never overdue while waiting on the citizen
    assert paused.remaining_working_days(CAL, vn(2026, 4, 1, 9, 0)) == 3  # frozen at the pause

    restarted = paused.resume(CAL, vn(2026, 3, 20, 16, 0), ClockPolicy.RESTART)  # Friday after cut-off
    assert restarted.running and restarted.started_at == vn(2026, 3, 20, 16, 0)
    assert restarted.due_at == vn(2026, 3, 26, 17, 0)  # received Mon 23, counted Tue 24 – Thu 26
    assert restarted.resume(CAL, vn(2026, 3, 21), ClockPolicy.RESTART) == restarted

    stopped = restarted.stop(vn(2026, 3, 27, 9, 0))
    assert stopped.stopped and not stopped.running
    assert stopped.is_overdue(vn(2026, 3, 27, 9, 0))
    assert stopped.is_overdue(vn(2026, 12, 31))
    on_time = restarted.stop(vn(2026, 3, 26, 16, 0))
    assert not on_time.is_overdue(vn(2026, 4, 30))
    with pytest.raises(CalendarError):
        stopped.pause(vn(2026, 3, 27))
    with pytest.raises(CalendarError, match="before"):
        clock.pause(vn(2026, 3, 9))


def test_pause_policy_extends_and_stopping_while_paused_freezes() -> None:
    clock = SlaClock.start(CAL, vn(2026, 3, 10, 9, 0), 3)
    resumed = clock.pause(vn(2026, 3, 11, 16, 0)).resume(CAL, vn(2026, 3, 12, 8, 0), ClockPolicy.PAUSE)
    assert resumed.due_at == vn(2026, 3, 16, 9, 0)  # 1.5 office hours later (Fri close → Mon 09:00)
    assert resumed.started_at == clock.started_at
    # withdrawn while waiting on the citizen, long after the due date: the wait is not the agency's
    gone = clock.pause(vn(2026, 3, 11, 16, 0)).stop(vn(2026, 5, 1))
    assert not gone.is_overdue(vn(2026, 5, 1))
    assert ClockPolicy("restart") is ClockPolicy.RESTART


# -- properties ------------------------------------------------------------------------------------

dates = st.dates(min_value=date(FIRST_YEAR, 1, 1), max_value=date(LAST_YEAR, 3, 31))
moments = st.datetimes(
    min_value=datetime(FIRST_YEAR, 1, 1), max_value=datetime(LAST_YEAR, 3, 31), timezones=st.just(VN_TZ)
)
limits = st.integers(min_value=0, max_value=60)
# pauses of up to three weeks, to the microsecond
spans = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=21))
LIBRARY = holidays.country_holidays("VN", years=range(FIRST_YEAR, LAST_YEAR + 1))
FAST = settings(max_examples=60, deadline=None)


@FAST
@given(dates, limits)
def test_agrees_with_the_holidays_library_except_the_listed_decisions(d: date, n: int) -> None:
    def worked(day: date) -> bool:
        if day in DISAGREEMENTS:
            return DISAGREEMENTS[day][0] == "worked"
        return LIBRARY.is_working_day(day)

    assert CAL.is_working_day(d) == worked(d)
    end = d + timedelta(days=n * 3)
    expected = sum(worked(d + timedelta(days=i)) for i in range((end - d).days))
    assert CAL.working_days_between(d, end) == expected


@FAST
@given(dates, st.integers(0, 40), limits, limits)
def test_add_working_days_is_monotonic_and_lands_on_working_days(
    d: date, shift: int, n: int, extra: int
) -> None:
    later = d + timedelta(days=shift)
    a = CAL.add_working_days(d, n)
    assert CAL.is_working_day(a)
    assert a >= d
    assert CAL.add_working_days(d, n + extra) >= a
    assert CAL.add_working_days(later, n) >= a
    assert CAL.working_days_between(d, a + timedelta(days=1)) == max(n, 1)


# receipts whose due date stays inside the years the shipped schedule covers (N <= 30 working days)
covered_moments = st.datetimes(
    min_value=datetime(FIRST_YEAR, 1, 1), max_value=datetime(LAST_YEAR, 10, 31), timezones=st.just(VN_TZ)
)


@settings(max_examples=200, deadline=None)
@given(covered_moments, st.integers(min_value=1, max_value=30))
def test_due_is_the_nth_working_day_strictly_after_the_effective_receipt_day(received: datetime, n: int) -> None:
    due = CAL.due_at(received, n)
    local = received.astimezone(VN_TZ)
    # the effective receipt day, from first principles: the day itself if worked and before 15:00
    receipt = local.date()
    if not (CAL.is_working_day(receipt) and local.time() < time(15, 0)):
        receipt += timedelta(days=1)
        while not CAL.is_working_day(receipt):
            receipt += timedelta(days=1)
    # walk N working days strictly after it
    d, counted = receipt, 0
    while counted < n:
        d += timedelta(days=1)
        counted += CAL.is_working_day(d)
    assert due == datetime.combine(d, time(17, 0), VN_TZ)
    assert due.date() > receipt
    assert CAL.working_days_taken(received, due) == n
    assert CAL.due_at(received.astimezone(UTC), n) == due


@FAST
@given(moments, limits)
def test_due_at_is_a_close_on_a_working_day(received: datetime, n: int) -> None:
    due = CAL.due_at(received, n)
    assert due > received
    assert CAL.is_working_day(due.date()) and due.timetz() == time(17, 0, tzinfo=VN_TZ)
    assert CAL.working_days_taken(received, due) == n


@FAST
@given(moments, spans, spans)
def test_office_time_is_additive(a: datetime, ab: timedelta, bc: timedelta) -> None:
    b, c = a + ab, a + ab + bc
    whole = CAL.working_seconds_between(a, c)
    assert whole == pytest.approx(CAL.working_seconds_between(a, b) + CAL.working_seconds_between(b, c))
    assert 0 <= whole <= (ab + bc).total_seconds()


@FAST
@given(moments, limits, spans, spans)
def test_extend_adds_exactly_the_office_time_paused(
    received: datetime, n: int, before_pause: timedelta, pause: timedelta
) -> None:
    due = CAL.due_at(received, n)
    paused_at = received + before_pause
    resumed_at = paused_at + pause
    new_due = CAL.extend(due, paused_at, resumed_at)
    assert new_due >= due  # never earlier
    spent = CAL.working_seconds_between(paused_at, resumed_at)
    assert CAL.working_seconds_between(due, new_due) == pytest.approx(spent)
    if spent == 0:
        assert new_due == due


@FAST
@given(moments, limits, spans)
def test_zero_length_pause_changes_nothing(started: datetime, n: int, after: timedelta) -> None:
    clock = SlaClock.start(CAL, started, n)
    at = started + after
    assert clock.pause(at).resume(CAL, at, ClockPolicy.PAUSE) == clock


@FAST
@given(moments, limits, spans, spans)
def test_restart_counts_the_full_limit_from_resume(
    started: datetime, n: int, until_pause: timedelta, pause: timedelta
) -> None:
    clock = SlaClock.start(CAL, started, n)
    resumed_at = started + until_pause + pause
    resumed = clock.pause(started + until_pause).resume(CAL, resumed_at, ClockPolicy.RESTART)
    assert resumed.due_at == CAL.due_at(resumed_at, n)
    assert resumed.started_at == resumed_at and resumed.running


@FAST
@given(moments, st.integers(1, 30), spans, spans)
def test_the_clock_never_counts_paused_time(
    started: datetime, n: int, until_pause: timedelta, pause: timedelta
) -> None:
    clock = SlaClock.start(CAL, started, n)
    assert clock.due_at is not None
    paused_at = min(started + until_pause, clock.due_at)
    resumed_at = paused_at + pause
    resumed = clock.pause(paused_at).resume(CAL, resumed_at, ClockPolicy.PAUSE)
    assert resumed.due_at is not None
    # the office time left after resuming is exactly what was left when the clock paused
    left_at_pause = CAL.working_seconds_between(paused_at, clock.due_at)
    assert CAL.working_seconds_between(resumed_at, resumed.due_at) == pytest.approx(left_at_pause)
    # and the office time the clock actually ran equals what it would have run unpaused
    ran = CAL.working_seconds_between(started, paused_at) + left_at_pause
    assert ran == pytest.approx(CAL.working_seconds_between(started, clock.due_at))
