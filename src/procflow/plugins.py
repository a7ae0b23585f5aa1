"""Finding, checking and using plugins: the plugin manager factory and the engine builder.

The manager is built by a factory, never at import, so tests and embedders choose exactly which plugins
run. Installed plugins are found through the ``procflow`` entry-point group. Every plugin is checked when
it registers, the way pluggy's own ``_verify_hook`` does, but the error says which plugin (and which
distribution) is at fault, shows its signature beside the hook's, and suggests the hook it probably meant.
"""

from __future__ import annotations

import difflib
import importlib.metadata
import inspect
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs
import pluggy

from procflow import defaults, hookspecs
from procflow.definition.model import ProcedureDefinition
from procflow.engine.core import Engine, Guard, OutboxRule
from procflow.engine.outbox import OutboxTopic, topic_rule
from procflow.errors import PluginError
from procflow.store.base import Store

__all__ = [
    "ENTRY_POINT_GROUP",
    "PluginInfo",
    "PluginManager",
    "build_engine",
    "describe_plugins",
    "make_plugin_manager",
    "outbox_rule",
    "plugin_guards",
    "plugin_procedures",
    "plugin_topics",
    "prefill",
]

ENTRY_POINT_GROUP = "procflow"


class PluginManager(pluggy.PluginManager):
    """pluggy's manager plus where each plugin came from (for error messages and ``procflow plugins``)."""

    def __init__(self) -> None:
        super().__init__(hookspecs.PROJECT)
        self.add_hookspecs(hookspecs)
        self.sources: dict[str, str] = {}

    def add(self, plugin: object, name: str | None = None, *, source: str = "explicit") -> str:
        """Register ``plugin`` after checking every hook it implements against the contract."""
        name = name or _default_name(plugin)
        _check_hookimpls(self, plugin, name, source)
        try:
            registered = self.register(plugin, name=name)
        except pluggy.PluginValidationError as exc:  # anything our own check did not anticipate
            raise PluginError(f"plugin {name!r} ({source}) was refused: {exc}") from exc
        except ValueError as exc:  # same name or same object twice
            raise PluginError(f"plugin {name!r} ({source}) cannot be registered: {exc}") from exc
        if registered is None:  # blocked
            return name
        self.sources[name] = source
        return name


def _default_name(plugin: object) -> str:
    return getattr(plugin, "__name__", None) or f"{type(plugin).__module__}.{type(plugin).__qualname__}"


def _signature(fn: Any, name: str) -> str:
    try:
        return f"{name}{inspect.signature(fn)}"
    except (TypeError, ValueError):
        return f"{name}(...)"


def _check_hookimpls(pm: PluginManager, plugin: object, name: str, source: str) -> None:
    specs = {n: getattr(pm.hook, n) for n in dir(pm.hook) if n.startswith("procflow_")}
    for attr in dir(plugin):
        if attr.startswith("__"):
            continue
        opts = pm.parse_hookimpl_opts(plugin, attr)
        if opts is None:
            continue
        fn = getattr(plugin, attr)
        hook = opts.get("specname") or attr
        where = f"plugin {name!r} ({source})"
        caller = specs.get(hook)
        if caller is None or caller.spec is None:
            near = difflib.get_close_matches(hook, list(specs), n=1)
            hint = f"; did you mean {near[0]}?" if near else f"; hooks: {', '.join(sorted(specs))}"
            raise PluginError(f"{where} implements {_signature(fn, attr)}, but procflow has no hook named "
                              f"{hook!r}{hint}")
        try:
            params = inspect.signature(fn).parameters.values()
        except (TypeError, ValueError):
            continue
        args = [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY, p.POSITIONAL_ONLY)]
        extra = [a for a in args if a not in caller.spec.argnames]
        if extra:
            spec_sig = f"{hook}({', '.join(caller.spec.argnames)})"
            raise PluginError(f"{where}: {_signature(fn, attr)} takes {', '.join(map(repr, extra))}, which the "
                              f"hook does not offer; the hook is {spec_sig} (an implementation may take fewer "
                              "arguments, never others)")


def make_plugin_manager(*, load_entrypoints: bool = True, plugins: Iterable[object] = (),
                        block: Iterable[str] = ()) -> PluginManager:
    """A fresh manager: the built-in defaults, then installed plugins (entry-point group ``procflow``),
    then ``plugins`` given here. ``block`` names plugins (entry-point names, or ``procflow.defaults``)
    to leave out. Raises ``PluginError`` naming the plugin that fails to import or to validate."""
    pm = PluginManager()
    for name in block:
        pm.set_blocked(name)
    pm.add(defaults, defaults.NAME, source="built-in")
    if load_entrypoints:
        _load_entrypoints(pm)
    for plugin in plugins:
        pm.add(plugin)
    return pm


def _load_entrypoints(pm: PluginManager) -> None:
    seen: set[str] = set()
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in seen or pm.is_blocked(ep.name) or pm.has_plugin(ep.name):
            continue
        seen.add(ep.name)
        dist = getattr(ep, "dist", None)
        source = f"{dist.name} {dist.version}" if dist is not None else ep.value
        try:
            plugin = ep.load()
        except Exception as exc:
            raise PluginError(f"plugin {ep.name!r} ({source}, entry point {ep.value!r}) failed to import: "
                              f"{type(exc).__name__}: {exc}") from exc
        pm.add(plugin, ep.name, source=source)


@attrs.frozen
class PluginInfo:
    name: str
    source: str
    hooks: tuple[str, ...]


def describe_plugins(pm: PluginManager) -> list[PluginInfo]:
    """Each registered plugin, where it came from and which hooks it implements (``procflow plugins``)."""
    out = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None:
            continue
        hooks = tuple(sorted(c.name for c in pm.get_hookcallers(plugin) or ()))
        out.append(PluginInfo(name=name, source=pm.sources.get(name, "explicit"), hooks=hooks))
    return sorted(out, key=lambda p: (p.source != "built-in", p.name))


def _each(pm: PluginManager, hook: str, **kwargs: Any) -> list[tuple[str, Any]]:
    """Call every implementation of a collecting hook, remembering which plugin answered what, so a
    conflict can name both plugins."""
    out = []
    for impl in getattr(pm.hook, hook).get_hookimpls():
        result = impl.function(**{a: kwargs[a] for a in impl.argnames})
        if result is not None:
            out.append((impl.plugin_name, result))
    return out


def plugin_guards(pm: PluginManager) -> dict[str, Guard]:
    guards: dict[str, Guard] = {}
    owner: dict[str, str] = {}
    for plugin, mapping in _each(pm, "procflow_register_guards"):
        for gname, fn in dict(mapping).items():
            if not callable(fn):
                raise PluginError(f"plugin {plugin!r}: guard {gname!r} is not callable ({fn!r})")
            if gname in guards and guards[gname] is not fn:
                raise PluginError(f"guard {gname!r} is offered by both {owner[gname]!r} and {plugin!r}; "
                                  "block one of them or rename the guard")
            guards[gname] = fn
            owner.setdefault(gname, plugin)
    return guards


def plugin_procedures(pm: PluginManager) -> list[ProcedureDefinition]:
    out: list[ProcedureDefinition] = []
    for plugin, defs in _each(pm, "procflow_register_procedures"):
        for d in defs:
            if not isinstance(d, ProcedureDefinition):
                raise PluginError(f"plugin {plugin!r}: procflow_register_procedures must return "
                                  f"ProcedureDefinition objects, got {type(d).__name__}")
            out.append(d)
    return out


def plugin_topics(pm: PluginManager, store: Store) -> list[OutboxTopic]:
    """Subscribed topics, one per name (two adapters subscribing the same standard topic share it)."""
    topics: dict[str, OutboxTopic] = {}
    for plugin, answer in _each(pm, "procflow_register_outbox_topics", store=store):
        for t in answer:
            if not isinstance(t, OutboxTopic):
                raise PluginError(f"plugin {plugin!r}: procflow_register_outbox_topics must return OutboxTopic "
                                  f"objects, got {type(t).__name__}")
            topics.setdefault(t.name, t)
    return list(topics.values())


def outbox_rule(pm: PluginManager, store: Store) -> OutboxRule | None:
    """One engine outbox rule for every subscribed topic, or None when nobody subscribes."""
    topics = plugin_topics(pm, store)
    return topic_rule(topics) if topics else None


def build_engine(store: Store, *, pm: PluginManager | None = None, register_procedures: bool = True,
                 guards: Mapping[str, Guard] | None = None, outbox_rules: Sequence[OutboxRule] = (),
                 **engine_kwargs: Any) -> Engine:
    """An ``Engine`` with the plugins' guards, outbox topics and (unless told not to) procedures.
    Explicit ``guards`` win over plugin guards of the same name; ``engine_kwargs`` go to ``Engine``."""
    pm = pm if pm is not None else make_plugin_manager()
    rules = list(outbox_rules)
    rule = outbox_rule(pm, store)
    if rule is not None:
        rules.append(rule)
    if "calendar" not in engine_kwargs:
        files = [f for result in pm.hook.procflow_register_calendar_files() for f in (result or ())]
        if files:
            from procflow.calendar import WorkingCalendar
            from procflow.schedule import default_schedule

            engine_kwargs["calendar"] = WorkingCalendar(schedule=default_schedule(files))
    if "identity" not in engine_kwargs and pm.hook.procflow_resolve_official.get_hookimpls():
        from procflow.privacy.identity import HookIdentity

        engine_kwargs["identity"] = HookIdentity(pm)  # a plugin says who officials are, not the directory
    engine = Engine(store, guards={**plugin_guards(pm), **(guards or {})}, outbox_rules=rules, **engine_kwargs)
    if register_procedures:
        for definition in plugin_procedures(pm):
            engine.register(definition)
    return engine


_PREFILL_KEYS = {"name": "full_name", "date_of_birth": "date_of_birth", "address": "address", "phone": "phone",
                 "email": "email"}


def prefill(pm: PluginManager, definition: ProcedureDefinition, national_id: str, *,
            id_field: str | None = None, timeout: float = 5.0) -> dict[str, Any]:
    """Form values from the civil registry for the person whose ID goes in ``id_field``.

    Only fields of the same person are filled: those sharing the ID field's prefix (``parent_national_id``
    fills ``parent_phone``, never ``child_name``). Returns ``{}`` when the registry does not know the
    person, or when no plugin can look people up.
    """
    id_fields = [f for f in definition.fields if f.personal == "national_id"]
    chosen = next((f for f in id_fields if id_field is None or f.name == id_field), None)
    if chosen is None:
        raise PluginError(f"procedure {definition.code} has no national-ID field"
                          + (f" named {id_field!r}" if id_field else ""))
    record = pm.hook.procflow_resolve_citizen(national_id=national_id, purpose=definition.code, timeout=timeout)
    if not record:
        return {}
    prefix = chosen.name.removesuffix("national_id")
    out: dict[str, Any] = {chosen.name: national_id}
    for f in definition.fields:
        key = _PREFILL_KEYS.get(f.personal or "")
        if key and f.name.startswith(prefix) and record.get(key) not in (None, ""):
            out[f.name] = record[key]
    return out
