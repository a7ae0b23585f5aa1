"""``procflow forms`` (print a one-stop form) and ``procflow extend`` (issue form 04).

``forms`` only reads: the dossier is read as the acting official (``--actor``), checked against the custody
path and audited like ``inspect``, personal data masked unless ``--unmask`` is allowed. ``extend`` is the
engine action behind form 04 (``Engine.extend``). Every bad input ends in one line on stderr.
"""

from __future__ import annotations

import sys
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from procflow.cli._common import DbOption, open_store_or_fail, require_db
from procflow.errors import ProcflowError
from procflow.privacy.files import write_private

if TYPE_CHECKING:
    from procflow.forms.records import Form
    from procflow.store.base import Store

__all__ = ["FORM_NUMBERS", "parse_day", "parse_moment", "register"]

# The keys of ``procflow.forms.records.FORM_TITLES``, for the help line: importing ``procflow.forms`` (the form
# builders and renderers) costs every command's start-up, so it waits until a form is made.
# tests/test_cli_conventions.py pins the two equal.
FORM_NUMBERS = "01|02|03|04|05|06|07"


def parse_day(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ProcflowError(f"{option} {text!r}: expected a date YYYY-MM-DD, e.g. 2026-04-23") from None


def parse_moment(text: str, option: str) -> date | datetime:
    """``YYYY-MM-DD`` (a day: the close of its office hours) or ``YYYY-MM-DD HH:MM`` in Vietnam's time."""
    from procflow.officehours import VN_TZ

    t = text.strip()
    if len(t) == 10:
        return parse_day(t, option)
    try:
        moment = datetime.fromisoformat(t)
    except ValueError:
        raise ProcflowError(f"{option} {text!r}: expected YYYY-MM-DD or 'YYYY-MM-DD HH:MM' (Vietnam time)") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=VN_TZ)


def _open(db: str | None) -> Store:
    return open_store_or_fail(db)


def _form_choices(incomplete: str) -> list[tuple[str, str]]:
    """Shell completion: the seven forms with their titles (a typo still gets the one-line error naming them)."""
    from procflow.forms.records import FORM_TITLES

    return [(number, titles[1]) for number, titles in FORM_TITLES.items() if number.startswith(incomplete)]


def register(app: typer.Typer) -> None:
    from procflow.cli._common import fail as _fail
    from procflow.cli._common import out

    @app.command(name="forms")
    def forms(
        dossier_id: Annotated[str | None, typer.Argument(help="Dossier code (not for form 07).")] = None,
        form: Annotated[str, typer.Option("--form", metavar=FORM_NUMBERS, autocompletion=_form_choices,
                                          help="Form number (Circular 03/2025/TT-VPCP, Annex I).")] = "01",
        html: Annotated[Path | None, typer.Option(help="Write the printable HTML page here.")] = None,
        json_out: Annotated[Path | None, typer.Option("--json", help="Write the form's JSON here ('-': stdout).")]
        = None,
        db: DbOption = None,
        actor: Annotated[str | None, typer.Option(help="Read for this official (an id the officials directory "
                                                        "delegates to the operator); default: the operator.")] = None,
        unmask: Annotated[bool, typer.Option(help="Print personal data unmasked (needs personal_data:unmask).")]
        = False,
        agency: Annotated[str | None, typer.Option(help="Form 07: the desk's agency code.")] = None,
        date_from: Annotated[str | None, typer.Option("--from", help="Form 07: first day, YYYY-MM-DD.")] = None,
        date_to: Annotated[str | None, typer.Option("--to", help="Form 07: last day, YYYY-MM-DD.")] = None,
        purpose: Annotated[str, typer.Option(help="Why the dossier is read (recorded in the access audit).")]
        = "forms",
    ) -> None:
        """Render a one-stop form (01–07) as printable HTML and/or JSON. Reads only; audited like inspect."""
        db = require_db(db)
        from procflow.engine.core import Engine
        from procflow.forms import build_form, build_register, check_form_number, render_html, render_json
        from procflow.privacy.credential import acting_actor

        store = None
        try:
            number = check_form_number(form)
            record: Form
            if number == "07":
                if dossier_id is not None:
                    raise ProcflowError("form 07 is a desk's register: give --agency, --from and --to, not a dossier")
                if not (agency and date_from and date_to):
                    raise ProcflowError("form 07 needs --agency CODE --from YYYY-MM-DD --to YYYY-MM-DD")
                first, last = parse_day(date_from, "--from"), parse_day(date_to, "--to")
                store = _open(db)
                engine = Engine(store)
                reader = acting_actor(engine.directory, actor)
                record = build_register(engine, agency, first, last, reader, purpose=purpose, unmask=unmask)
            else:
                if dossier_id is None:
                    raise ProcflowError(f"form {number} is built for one dossier: give its code")
                store = _open(db)
                engine = Engine(store)
                reader = acting_actor(engine.directory, actor)
                record = build_form(engine, dossier_id, number, reader, purpose=purpose, unmask=unmask)
            if html is not None:
                write_private(html, render_html(record))  # a dossier's form: owner-only (0600)
            text = render_json(record)
            if json_out is not None and str(json_out) != "-":
                write_private(json_out, text + "\n")
            elif json_out is not None or html is None:
                sys.stdout.write(text + "\n")
        except (ProcflowError, OSError) as exc:
            _fail(str(exc))
        finally:
            if store is not None:
                store.close()
        if html is not None:
            out.print(f"form {number} ({record.header.title_vi.lower()}) → {html}", highlight=False)

    @app.command(name="extend")
    def extend(
        dossier_id: Annotated[str, typer.Argument(help="Dossier code.")],
        reason: Annotated[str, typer.Option(help="Why the dossier will be late, in Vietnamese (printed in form 04).")],
        new_date: Annotated[str, typer.Option(help="New appointment: YYYY-MM-DD (close of office) or "
                                                   "'YYYY-MM-DD HH:MM', Vietnam time.")],
        db: DbOption = None,
        actor: Annotated[str | None, typer.Option(help="Act for this official of the custodian (an id the "
                                                        "officials directory delegates to the operator); "
                                                        "default: the operator.")] = None,
        signer_role: Annotated[str, typer.Option(help="Who signs form 04.")] = "Thủ trưởng cơ quan",
    ) -> None:
        """Issue form 04: apologise and set a new appointment, before the due date, once per dossier."""
        db = require_db(db)
        from procflow.engine.core import Engine
        from procflow.officehours import VN_TZ
        from procflow.privacy.credential import acting_actor

        store = None
        try:
            when = parse_moment(new_date, "--new-date")
            store = _open(db)
            engine = Engine(store)
            official = acting_actor(engine.directory, actor)
            d = engine.extend(dossier_id, official, reason=reason, new_due=when, signer_role=signer_role)
        except ProcflowError as exc:
            _fail(str(exc))
        finally:
            if store is not None:
                store.close()
        assert d.sla.appointment_at is not None and d.sla.due_at is not None
        out.print(f"{d.id}: form 04 issued; new appointment {d.sla.appointment_at.astimezone(VN_TZ):%H:%M %d/%m/%Y}"
                  f" (legal limit {d.sla.due_at.astimezone(VN_TZ):%H:%M %d/%m/%Y} still counts for lateness)",
                  highlight=False)
