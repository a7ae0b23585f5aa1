"""Durable timers: what a declared timer means, when it falls due, and which ones a state change arms.

A procedure declares its timers (``[[timers]]`` in the TOML, read into ``TimerSpec``); the engine compiles
them once per definition version into a ``TimerTable`` and, inside the same store transaction as each state
change, queues the timers that change arms (or re-arms). The scheduler (``procflow.workers.scheduler``) fires what
falls due.

Storage follows the event log, the truth: a state change that cancels or pauses a timer writes nothing
for it, because its event already says so. When a queued arming falls due the scheduler replays the
dossier's events through the same ``TimerTable`` (``armings``) and fires it only if it is still the live
arming; otherwise it is dropped. So leaving a state costs no write at all, arming costs one insert into a
queue ordered by due time, and what is armed can always be recomputed from the log (``procflow inspect``).

Meaning, in one place:

* A timer is **live** while the dossier is in one of its ``states``; leaving them cancels it, re-entering
  arms it afresh.
* ``anchor = "state"`` counts from entering its states; ``"custody"`` from the current custodian agency
  taking the dossier (a hand-off re-arms it); ``"absolute"`` fires at ``at``.
* ``anchor = "due"`` counts from the SLA due date and is live only while the SLA clock runs. When the clock
  pauses the timer pauses with it; when it resumes under the PAUSE policy the due date moved later by the
  paused office time and so does the timer (one that already fired stays fired: the deadline is the same);
  when the clock restarts (RESTART, the default for supplements) every due timer is armed again from the new
  due date, fired or not.
* Working-day offsets keep the wall-clock time and move across working days only: "2 working days before
  due" is the same time of day on the second working day before the due day, so exactly two working days
  of office time are left. Calendar offsets (``calendar_days``, ``hours``) are plain elapsed time.
* An ``overdue`` timer fires just after the due moment (a dossier due at 17:00 is not late at 17:00) and
  only records the lateness (event ``overdue``; officials it names are told). It always counts from the
  legal due date; other due timers count from the appointment, which an extension (form 04,
  ``Engine.extend``) may have moved later.

Definitions without timers compile to ``None`` and the engine skips all of this: they pay nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta

import attrs

from procflow.calendar import WorkingCalendar
from procflow.definition.model import ProcedureDefinition, TimerAction, TimerAnchor, TimerSpec
from procflow.dossier import Dossier, DossierEvent, EventKind, replay, sla_from_dict
from procflow.engine.outbox import NOTIFY_CITIZEN, citizen_recipient
from procflow.store.base import OutboxMessage

__all__ = [
    "NOTIFY_OFFICIAL",
    "Arming",
    "TimerChanges",
    "TimerTable",
    "armings",
    "fire_at",
    "notices",
    "shift_working_days",
]

NOTIFY_OFFICIAL = "notify.official"
"""Outbox topic of notices to officials (the handler or the head of the unit); citizens get ``notify.citizen``."""

_JUST_AFTER = timedelta(seconds=1)


_SHIFTS: dict[tuple[int, int, int], int] = {}  # (calendar id, day ordinal, n) -> day ordinal


def shift_working_days(cal: WorkingCalendar, at: datetime, n: int) -> datetime:
    """The same wall-clock time ``n`` working days later (``n < 0``: earlier), skipping days off.

    From a day off, the first working day after (or before) it counts as one.
    """
    local = at.astimezone(cal.tz)
    if n == 0:
        return local
    o = local.toordinal()
    key = (id(cal), o, n)
    shifted = _SHIFTS.get(key)
    if shifted is None:
        day = local.date()
        step = timedelta(days=1 if n > 0 else -1)
        left = abs(n)
        while left:
            day += step
            if cal.is_working_day(day):
                left -= 1
        shifted = day.toordinal()
        if len(_SHIFTS) > 100_000:  # calendars are few and days repeat: this stays small in practice
            _SHIFTS.clear()
        _SHIFTS[key] = shifted
    return datetime.combine(date.fromordinal(shifted), local.timetz())


def _offset(cal: WorkingCalendar, spec: TimerSpec, base: datetime) -> datetime:
    if spec.working_days is not None:
        return shift_working_days(cal, base, spec.working_days)
    if spec.calendar_days is not None:
        return base + timedelta(days=spec.calendar_days)
    if spec.hours is not None:
        return base + timedelta(hours=spec.hours)
    return base


def fire_at(spec: TimerSpec, d: Dossier, cal: WorkingCalendar, now: datetime) -> datetime | None:
    """When ``spec`` falls due for ``d`` if armed at ``now`` (None: a due timer with no due date)."""
    if spec.anchor is TimerAnchor.ABSOLUTE:
        return spec.at
    if spec.anchor is TimerAnchor.DUE:
        # lateness is measured against the legal limit; reminders count to the appointment promised to the
        # citizen, which an extension (form 04) may have moved later
        base = d.sla.due_at if spec.action is TimerAction.OVERDUE else d.sla.appointment_at
        if base is None:
            return None
        when = _offset(cal, spec, base)
        return when + _JUST_AFTER if spec.action is TimerAction.OVERDUE else when
    return _offset(cal, spec, now)


class TimerChanges:
    """What one state change does to a dossier's timers. The store queues ``arm`` in the same transaction;
    ``cancel`` and ``pause`` need no write (the state change's event records them; see ``armings``).

    ``arm`` holds ``(name, fire_at, keep_fired)``: ``keep_fired`` marks a due timer shifted by a PAUSE
    resume, which does not fire again if it already fired for the same deadline. (A plain slotted class:
    it is made on every state change of a procedure with timers, where an attrs frozen class costs more.)
    """

    __slots__ = ("arm", "cancel", "pause")

    def __init__(self, arm: tuple[tuple[str, datetime, bool], ...] = (), cancel: tuple[str, ...] = (),
                 pause: tuple[str, ...] = ()) -> None:
        self.arm = arm
        self.cancel = cancel
        self.pause = pause

    def __bool__(self) -> bool:
        return bool(self.arm or self.cancel or self.pause)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TimerChanges) and (self.arm, self.cancel, self.pause) == (
            other.arm, other.cancel, other.pause)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"TimerChanges(arm={self.arm!r}, cancel={self.cancel!r}, pause={self.pause!r})"


_NOTHING = TimerChanges()
_Pair = tuple[tuple[TimerSpec, ...], tuple[TimerSpec, ...], tuple[TimerSpec, ...]]  # (left, kept, entered)


class TimerTable:
    """A definition's timers compiled once: per state, which timers are live there."""

    __slots__ = ("_pairs", "by_name", "by_state", "definition", "names_in", "specs")

    def __init__(self, defn: ProcedureDefinition) -> None:
        self.definition = defn
        self.specs: tuple[TimerSpec, ...] = defn.timers
        self.by_name: Mapping[str, TimerSpec] = {t.name: t for t in defn.timers}
        self.by_state: Mapping[str, tuple[TimerSpec, ...]] = {
            s.name: tuple(t for t in defn.timers if s.name in t.states) for s in defn.states}
        self.names_in: Mapping[str, frozenset[str]] = {k: frozenset(t.name for t in v)
                                                       for k, v in self.by_state.items()}
        self._pairs: dict[tuple[str, str], _Pair] = {}

    @classmethod
    def compile(cls, defn: ProcedureDefinition) -> TimerTable | None:
        return cls(defn) if defn.timers else None

    def live(self, spec: TimerSpec, d: Dossier) -> bool:
        """Would ``spec`` be armed for ``d`` as it stands?"""
        if d.state not in spec.states:
            return False
        return spec.anchor is not TimerAnchor.DUE or (d.sla.running and d.sla.due_at is not None)

    def on_file(self, d: Dossier, cal: WorkingCalendar, now: datetime) -> TimerChanges:
        arm = []
        for spec in self.by_state.get(d.state, ()):
            if self.live(spec, d):
                when = fire_at(spec, d, cal, now)
                if when is not None:
                    arm.append((spec.name, when, False))
        return TimerChanges(arm=tuple(arm)) if arm else _NOTHING

    def _pair(self, old: str, new: str) -> _Pair:
        """Per (old state, new state), once: the timers left behind, kept, and entered."""
        key = (old, new)
        plan = self._pairs.get(key)
        if plan is None:
            before, after = self.names_in.get(old, frozenset()), self.names_in.get(new, frozenset())
            plan = self._pairs[key] = (tuple(t for t in self.specs if t.name in before and t.name not in after),
                                       tuple(t for t in self.specs if t.name in before and t.name in after),
                                       tuple(t for t in self.specs if t.name not in before and t.name in after))
        return plan

    def on_fire(self, old: Dossier, new: Dossier, cal: WorkingCalendar, now: datetime) -> TimerChanges:
        gone, kept, entered = self._pair(old.state, new.state)
        if not (gone or kept or entered):
            return _NOTHING
        arm: list[tuple[str, datetime, bool]] = []
        cancel = [spec.name for spec in gone]
        pause: list[str] = []
        for spec in kept:
            if spec.anchor is TimerAnchor.DUE:
                if new.sla.stopped:
                    cancel.append(spec.name)
                    continue
                was, live = self.live(spec, old), self.live(spec, new)
                if was and not live:
                    pause.append(spec.name)  # the clock paused in a state where the timer lives: it waits
                    continue
                restarted = new.sla.started_at != old.sla.started_at
                # an extension (form 04) moves the appointment: reminders follow it, the overdue timer does not
                extended = (new.sla.extended_due_at != old.sla.extended_due_at
                            and spec.action is not TimerAction.OVERDUE)
                if not live or (was and not restarted and not extended and new.sla.due_at == old.sla.due_at):
                    continue
                # same SLA run (a PAUSE resume): the deadline moved, and a timer that fired for it stays fired;
                # a reminder re-armed for an extension's new appointment fires again
                keep = not restarted and not extended
            elif spec.anchor is TimerAnchor.CUSTODY and new.custodian != old.custodian:
                keep = False
            else:
                continue
            when = fire_at(spec, new, cal, now)
            if when is not None:
                arm.append((spec.name, when, keep))
        for spec in entered:
            if self.live(spec, new):
                when = fire_at(spec, new, cal, now)
                if when is not None:
                    arm.append((spec.name, when, False))
        if not (arm or cancel or pause):
            return _NOTHING
        return TimerChanges(arm=tuple(arm), cancel=tuple(cancel), pause=tuple(pause))

    def names(self) -> Sequence[str]:
        return tuple(self.by_name)


@attrs.frozen
class Arming:
    """A timer armed (or paused with the SLA clock) for a dossier now, as its event log says."""

    name: str
    fire_at: datetime
    armed_seq: int  # the event that armed it
    status: str  # "armed" | "paused"
    keep: bool  # a PAUSE shift: does not fire if the timer already fired for this deadline
    run_seq: int  # the event that started the SLA run (the deadline) it belongs to


def _step(d: Dossier, e: DossierEvent) -> Dossier:
    """The snapshot after a non-filing event: the fields timers read, folded as ``dossier.replay`` does."""
    fx = e.effects or {}
    return attrs.evolve(d, state=e.to_state, status=e.status, custodian=e.custodian, updated_at=e.at,
                        revision=e.seq, sla=sla_from_dict(fx["sla"]) if "sla" in fx else d.sla)


def armings(table: TimerTable, events: Sequence[DossierEvent], cal: WorkingCalendar) -> dict[str, Arming]:
    """Replay a dossier's events through its timer table: the timers armed or paused now, each with the
    event that armed it. The same computation the engine made at each state change, so a queued arming is
    live exactly when it is the one returned here (and armed)."""
    if not events:
        return {}
    d = replay(events[:1])
    run = events[0].seq
    out = {name: Arming(name, when, events[0].seq, "armed", keep, run)
           for name, when, keep in table.on_file(d, cal, events[0].at).arm}
    for e in events[1:]:
        new = _step(d, e)
        if e.kind == EventKind.MIGRATED:  # merged units renamed codes (procflow migrate): timers carry over
            d = new
            continue
        if new.sla.started_at != d.sla.started_at:
            run = e.seq
        changes = table.on_fire(d, new, cal, e.at)
        for name in changes.cancel:
            out.pop(name, None)
        for name in changes.pause:
            if name in out:
                out[name] = attrs.evolve(out[name], status="paused")
        for name, when, keep in changes.arm:
            out[name] = Arming(name, when, e.seq, "armed", keep, run)
        d = new
    return out


# -- notices: the outbox rows a timer sends (content only; adapters choose the channel) -----------------------
_TEXTS: Mapping[tuple[TimerAction, str], tuple[str, str]] = {
    (TimerAction.NOTIFY, "due"): ("Hồ sơ {id} ({procedure_name}) đến hạn giải quyết lúc {due}.",
                                  "Dossier {id} ({procedure_name}) falls due at {due}."),
    (TimerAction.NOTIFY, ""): ("Nhắc việc: hồ sơ {id} ({procedure_name}) đang ở bước {state}.",
                               "Reminder: dossier {id} ({procedure_name}) is at step {state}."),
    (TimerAction.FIRE, ""): ("Hồ sơ {id} ({procedure_name}): đã hết thời hạn, hệ thống thực hiện '{trigger}'.",
                             "Dossier {id} ({procedure_name}): the time limit ran out; '{trigger}' was applied."),
    (TimerAction.ESCALATE, ""): ("Hồ sơ {id} ({procedure_name}) nằm tại {custodian} quá thời hạn ở bước {state}; "
                                 "đề nghị lãnh đạo đơn vị chỉ đạo xử lý.",
                                 "Dossier {id} ({procedure_name}) has been at {custodian} too long (step {state}); "
                                 "the head of the unit is asked to act."),
    (TimerAction.OVERDUE, ""): ("Hồ sơ {id} ({procedure_name}) đã quá hạn giải quyết (hạn {due}) tại {custodian}; "
                                "hồ sơ được ghi nhận trễ hạn.",
                                "Dossier {id} ({procedure_name}) passed its time limit ({due}) at {custodian}; it is "
                                "recorded as late."),
}


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _when(value: datetime | None, cal: WorkingCalendar) -> str:
    return "—" if value is None else value.astimezone(cal.tz).strftime("%H:%M %d/%m/%Y")


def notices(spec: TimerSpec, d: Dossier, defn: ProcedureDefinition, cal: WorkingCalendar, *, armed_seq: int,
            extra: Mapping[str, object] | None = None, new_due: datetime | None = None) -> list[OutboxMessage]:
    """One outbox row per recipient of ``spec``: ``notify.citizen`` for the citizen (the notification hook),
    ``notify.official`` for the handling official or the head of the custodian unit. Keys are
    ``timer:<name>:<dossier>:<armed_seq>:<recipient>``: the same on every retry, new for a new arming.
    The citizen is the dossier holder, as for a status notice (``procflow.engine.outbox.citizen_recipient``);
    their phone / e-mail go in as ``d`` holds them (real values once opened): the caller seals the rows
    before they are stored (``EventWriter.seal_outbox``, as every other outbox row), so a notice is sealed
    by the same rule, with the same fallback to the store, as the engine's own rows."""
    if not spec.notify:
        return []
    vi, en = _TEXTS.get((spec.action, spec.anchor.value)) or _TEXTS[(spec.action, "")]
    shown_due = d.sla.due_at if spec.action is TimerAction.OVERDUE else d.sla.appointment_at
    values = _Blank(id=d.id, procedure=defn.code, procedure_name=defn.name_vi, state=defn.step(d.state).label_vi
                    or d.state, due=_when(shown_due, cal), trigger=spec.trigger or "", timer=spec.name,
                    custodian=d.custodian, new_due=_when(new_due, cal))
    text_vi = (spec.text_vi or vi).format_map(values)
    text_en = (spec.text_en or en).format_map(values)
    out = []
    for who in spec.notify:
        key = f"timer:{spec.name}:{d.id}:{armed_seq}:{who}"
        payload: dict[str, object] = {"dossier_id": d.id, "procedure": defn.code, "status": d.status, "state": d.state,
                                      "template": f"timer.{spec.name}", "timer": spec.name,
                                      "action": spec.action.value, "text_vi": text_vi, "text_en": text_en,
                                      "due_at": None if d.sla.due_at is None else d.sla.due_at.isoformat()}
        if who == "citizen":
            payload["recipient"] = citizen_recipient(d.data, defn)
            topic = NOTIFY_CITIZEN
        else:
            payload["recipient"] = {"agency": d.custodian, "role": "head" if who == "head" else "handler"}
            topic = NOTIFY_OFFICIAL
        if extra:
            payload.update(extra)
        out.append(OutboxMessage(topic, key, d.id, payload))
    return out
