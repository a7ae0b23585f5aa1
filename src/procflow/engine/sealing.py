"""The engine's side of personal data: sealing values into the vault as events are written, opening them for
checked reads.

A mixin of Engine, kept apart so that the state machine's module is about moving dossiers; the vault and the
hash chain themselves live in procflow.privacy."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from procflow.dossier import Dossier, DossierEvent
from procflow.engine.compiled import CompiledDefinition
from procflow.engine.eventwriter import EventWriter
from procflow.privacy.sealed import has_refs, is_ref
from procflow.privacy.vault import Vault
from procflow.store.base import Store

__all__ = ["Sealing"]


class Sealing:
    store: Store
    vault: Vault
    writer: EventWriter
    _compiled: dict[tuple[str, int], CompiledDefinition]

    # -- personal data and the hash chain (see procflow.privacy.vault, procflow.privacy.hashchain) ---------------------
    def _sealed_row(self, d: Dossier, new: Dossier, values: Mapping[str, Any], personal: Mapping[str, str],
                    effects: dict[str, Any]) -> Dossier:
        """Seal the personal values among ``values``; ``new`` keeps real values, the returned row (for the
        store) and ``effects`` carry references."""
        if personal.keys().isdisjoint(values):
            real, stored = dict(values), dict(values)
        else:
            real, stored = self.writer.seal(d.id, new.revision, values, personal)
        effects["data"] = stored
        base = dict(d.data)
        sealed = dict(self.writer.memo.sealed(d.id) or {})
        unknown = False
        for k in personal:
            v = base.get(k)
            if is_ref(v):
                continue
            s = sealed.get(k)
            if s is not None and s[0] == v:  # also None: a value retention erased keeps its reference
                base[k] = s[1]
            elif v is not None:
                unknown = True
        if unknown:  # a record built without its vault references (by hand, or replayed): the store has them
            raw = self.store.get(d.id).data
            for k in personal:
                if is_ref(raw.get(k)) and not is_ref(base.get(k)):
                    base[k] = raw[k]
        new.data = {**d.data, **real}
        row_data = {**base, **stored}
        self.writer.memo.set_refs(new.id, new.data, row_data)
        return Dossier(id=new.id, procedure=new.procedure, definition_version=new.definition_version,
                       state=new.state, status=new.status, custodian=new.custodian, agencies=new.agencies,
                       location_independent=new.location_independent, received_at=new.received_at,
                       updated_at=new.updated_at, sla=new.sla, step_due_at=new.step_due_at, data=row_data,
                       revision=new.revision)

    def seal_values(self, owner_id: str, seq: int, values: Mapping[str, Any]) -> dict[str, Any]:
        """Seal the personal values among ``values`` kept outside a dossier (a liên thông bundle's data for
        members not filed yet) in the vault as entry ``(owner_id, seq)``; returns them with references in
        their place. Kinds come from the registered definitions' fields of the same name. Passing the result
        to ``file`` later opens and re-seals the values for the new dossier. Call inside the transaction
        that stores the references."""
        kinds = {f.name: f.personal for c in self._compiled.values() for f in c.definition.fields
                 if f.personal is not None and f.name in values}
        return self.writer.seal(owner_id, seq, values, kinds)[1] if kinds else dict(values)

    def open_record(self, d: Dossier) -> Dossier:
        """A stored record with its personal values opened from the vault (the system path: not audited)."""
        if not has_refs(d.data):
            return d
        stored = d.data
        d.data = self.vault.resolve(stored)
        self.writer.memo.set_refs(d.id, d.data, stored)
        return d

    def open_events(self, events: Sequence[DossierEvent]) -> list[DossierEvent]:
        """Stored events with the personal values they carry opened from the vault (system path)."""
        idx = [i for i, e in enumerate(events)
               if e.effects and isinstance(e.effects.get("data"), Mapping) and has_refs(e.effects["data"])]
        out = list(events)
        if idx:
            opened = self.vault.resolve_many([events[i].effects["data"] for i in idx])  # type: ignore[index]
            for i, data in zip(idx, opened, strict=True):
                out[i] = attrs.evolve(events[i], effects={**events[i].effects, "data": data})  # type: ignore[dict-item]
        return out
