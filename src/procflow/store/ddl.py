"""The schema, version by version, as the SQL each migration runs on SQLite and PostgreSQL.

Kept apart from the migration runner (procflow.store.migrations) so that the runner's rules — one version
at a time, recorded, refused when newer than this procflow — read without the tables in the way.
"""

from __future__ import annotations

# SQLite's version 1: the tables SQLiteStore created before migrations were numbered
SQLITE_V1_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS definitions (
    code TEXT NOT NULL, version INTEGER NOT NULL, content_hash TEXT NOT NULL, source TEXT NOT NULL,
    PRIMARY KEY (code, version));
CREATE TABLE IF NOT EXISTS sequences (
    agency TEXT NOT NULL, day TEXT NOT NULL, last INTEGER NOT NULL, PRIMARY KEY (agency, day));
CREATE TABLE IF NOT EXISTS dossiers (
    id TEXT PRIMARY KEY, procedure TEXT NOT NULL, definition_version INTEGER NOT NULL,
    state TEXT NOT NULL, status INTEGER NOT NULL, custodian TEXT NOT NULL, agencies TEXT NOT NULL,
    location_independent INTEGER NOT NULL, received_at TEXT NOT NULL, updated_at TEXT NOT NULL,
    sla TEXT NOT NULL, step_due_at TEXT, data TEXT NOT NULL, revision INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    dossier_id TEXT NOT NULL, seq INTEGER NOT NULL, at TEXT NOT NULL, kind TEXT NOT NULL, trigger TEXT,
    from_state TEXT, to_state TEXT NOT NULL, status INTEGER NOT NULL, actor TEXT NOT NULL,
    agency TEXT NOT NULL, custodian TEXT NOT NULL, definition_version INTEGER NOT NULL, effects TEXT,
    note TEXT, PRIMARY KEY (dossier_id, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, key TEXT NOT NULL UNIQUE,
    dossier_id TEXT NOT NULL, payload TEXT NOT NULL, created_at TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,
    available_at TEXT NOT NULL, claimed_by TEXT, lease_until TEXT, last_error TEXT, delivered_at TEXT);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (status, available_at);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, actor TEXT NOT NULL, agency TEXT NOT NULL,
    dossier_id TEXT, action TEXT NOT NULL, outcome TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS audit_dossier ON audit (dossier_id);
CREATE INDEX IF NOT EXISTS audit_actor ON audit (actor);
"""


def _sqlite_v1() -> str:
    return SQLITE_V1_SCHEMA + ";\nINSERT OR IGNORE INTO meta VALUES ('schema_version', '1')"


# timestamptz for instants (read back in the session's TimeZone, procflow's Asia/Ho_Chi_Minh by default),
# jsonb for structured values, fillfactor on dossiers so a transition's UPDATE stays a HOT update (no index
# touched: only the primary key is indexed), and a partial index that holds only deliverable outbox rows.
_POSTGRES_V1 = """
CREATE TABLE IF NOT EXISTS definitions (
    code text NOT NULL, version integer NOT NULL, content_hash text NOT NULL, source text NOT NULL,
    registered_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (code, version));
CREATE TABLE IF NOT EXISTS sequences (
    agency text NOT NULL, day text NOT NULL, last integer NOT NULL, PRIMARY KEY (agency, day));
CREATE TABLE IF NOT EXISTS dossiers (
    id text PRIMARY KEY, procedure text NOT NULL, definition_version integer NOT NULL, state text NOT NULL,
    status smallint NOT NULL, custodian text NOT NULL, agencies jsonb NOT NULL,
    location_independent boolean NOT NULL, received_at timestamptz NOT NULL, updated_at timestamptz NOT NULL,
    sla jsonb NOT NULL, step_due_at timestamptz, data jsonb NOT NULL, revision integer NOT NULL
) WITH (fillfactor = 80);
CREATE TABLE IF NOT EXISTS events (
    dossier_id text NOT NULL, seq integer NOT NULL, at timestamptz NOT NULL, kind text NOT NULL, trigger text,
    from_state text, to_state text NOT NULL, status smallint NOT NULL, actor text NOT NULL, agency text NOT NULL,
    custodian text NOT NULL, definition_version integer NOT NULL, effects jsonb, note text,
    PRIMARY KEY (dossier_id, seq));
CREATE TABLE IF NOT EXISTS outbox (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, topic text NOT NULL, key text NOT NULL UNIQUE,
    dossier_id text NOT NULL, payload jsonb NOT NULL, created_at timestamptz NOT NULL,
    status text NOT NULL DEFAULT 'pending', attempts integer NOT NULL DEFAULT 0, available_at timestamptz NOT NULL,
    claimed_by text, lease_until timestamptz, last_error text, delivered_at timestamptz);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (available_at, id) WHERE status = 'pending';
CREATE TABLE IF NOT EXISTS audit (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, at timestamptz NOT NULL, actor text NOT NULL,
    agency text NOT NULL, dossier_id text, action text NOT NULL, outcome text NOT NULL,
    detail text NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS audit_dossier ON audit (dossier_id);
CREATE INDEX IF NOT EXISTS audit_actor ON audit (actor)
"""


# Version 2: durable timers (procflow.engine.timers). ``timers`` is the due queue: one small row per arming, clustered
# by due time (SQLite: the rowid is the due millisecond since the epoch × 10^6 + a tie counter, so an arming is
# an append to the table's own b-tree; ``fire_us`` keeps the exact moment), so arming costs one insert near the
# right edge and the scheduler reads it in order without an extra index. Cancelling writes nothing: the state
# change's event is the record, and the scheduler settles an arming the event log shows cancelled or
# superseded as "cancelled" when it falls due. ``timer_log`` records each outcome once: its UNIQUE key is the
# database's own guard that one arming never fires twice.
_SQLITE_V2 = """
CREATE TABLE IF NOT EXISTS timers (
    id INTEGER PRIMARY KEY, fire_us INTEGER NOT NULL, dossier_id TEXT NOT NULL, name TEXT NOT NULL,
    armed_seq INTEGER NOT NULL, keep INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS timer_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT, dossier_id TEXT NOT NULL, name TEXT NOT NULL,
    armed_seq INTEGER NOT NULL, action TEXT NOT NULL, fire_at TEXT NOT NULL, fired_at TEXT NOT NULL,
    outcome TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '', worker TEXT NOT NULL,
    UNIQUE (dossier_id, name, armed_seq))
"""


_POSTGRES_V2 = """
CREATE TABLE IF NOT EXISTS timers (
    fire_at timestamptz NOT NULL, dossier_id text NOT NULL, name text NOT NULL, armed_seq integer NOT NULL,
    keep boolean NOT NULL DEFAULT false, PRIMARY KEY (fire_at, dossier_id, name, armed_seq));
CREATE TABLE IF NOT EXISTS timer_log (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, dossier_id text NOT NULL, name text NOT NULL,
    armed_seq integer NOT NULL, action text NOT NULL, fire_at timestamptz NOT NULL,
    fired_at timestamptz NOT NULL, outcome text NOT NULL, detail text NOT NULL DEFAULT '', worker text NOT NULL,
    UNIQUE (dossier_id, name, armed_seq))
"""


# Version 3: personal data (procflow.privacy.vault, procflow.privacy.hashchain, procflow.privacy.access). ``vault``
# holds the personal
# values each event set, encrypted (one row per event; ``key_id`` names the data key, ``erased`` after
# retention); ``vault_index`` maps HMAC(index key, national ID) to dossiers; events carry their hash chain;
# audit rows say for what purpose a dossier was read. No index on ``vault.key_id``: it would cost every
# write a second B-tree page; rotation walks the primary key instead.
_SQLITE_V3 = """
ALTER TABLE events ADD COLUMN prev_hash BLOB;
ALTER TABLE events ADD COLUMN hash BLOB;
ALTER TABLE audit ADD COLUMN purpose TEXT NOT NULL DEFAULT '';
CREATE TABLE IF NOT EXISTS vault (
    dossier_id TEXT NOT NULL, seq INTEGER NOT NULL, key_id TEXT NOT NULL, value BLOB, erased_at TEXT,
    PRIMARY KEY (dossier_id, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS vault_index (
    digest TEXT NOT NULL, dossier_id TEXT NOT NULL, field TEXT NOT NULL,
    PRIMARY KEY (digest, dossier_id, field)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS vault_index_dossier ON vault_index (dossier_id)
"""


_POSTGRES_V3 = """
ALTER TABLE events ADD COLUMN IF NOT EXISTS prev_hash bytea;
ALTER TABLE events ADD COLUMN IF NOT EXISTS hash bytea;
ALTER TABLE audit ADD COLUMN IF NOT EXISTS purpose text NOT NULL DEFAULT '';
CREATE TABLE IF NOT EXISTS vault (
    dossier_id text NOT NULL, seq integer NOT NULL, key_id text NOT NULL, value bytea, erased_at text,
    PRIMARY KEY (dossier_id, seq));
CREATE TABLE IF NOT EXISTS vault_index (
    digest text NOT NULL, dossier_id text NOT NULL, field text NOT NULL, PRIMARY KEY (digest, dossier_id, field));
CREATE INDEX IF NOT EXISTS vault_index_dossier ON vault_index (dossier_id)
"""


# Version 4: inter-agency exchange (procflow.exchange.transfer). ``exchange_received`` remembers the message
# id of every envelope a node imported, written in the import's own transaction: its primary key is the
# replay guard, so a hand-off delivered twice (outbox at-least-once) is applied once.
_SQLITE_V4 = """
CREATE TABLE IF NOT EXISTS exchange_received (
    message_id TEXT PRIMARY KEY, received_at TEXT NOT NULL, sender TEXT, dossier_id TEXT) WITHOUT ROWID
"""


_POSTGRES_V4 = """
CREATE TABLE IF NOT EXISTS exchange_received (
    message_id text PRIMARY KEY, received_at timestamptz NOT NULL, sender text, dossier_id text)
"""


# Version 5 (SQLite): the event log and the vault become append-ordered tables (rowid order = arrival
# order) with a unique index on (dossier_id, seq), instead of tables clustered on that key. A transition
# then appends its event and vault rows at the end of the table, and only the small index entry lands
# at a random place: clustered on (dossier_id, seq), every commit wrote a full row into a random leaf and
# split leaves often, so each byte an event carries (its hash chain, a ciphertext's nonce and tag) cost
# far more than its size (measured in benchmarks/bench_privacy.py and bench_engine.py). Reading one
# dossier's events goes through the index; rows are copied in their original order.
_SQLITE_V5 = """
CREATE TABLE events_v5 (
    id INTEGER PRIMARY KEY, dossier_id TEXT NOT NULL, seq INTEGER NOT NULL, at TEXT NOT NULL, kind TEXT NOT NULL,
    trigger TEXT, from_state TEXT, to_state TEXT NOT NULL, status INTEGER NOT NULL, actor TEXT NOT NULL,
    agency TEXT NOT NULL, custodian TEXT NOT NULL, definition_version INTEGER NOT NULL, effects TEXT, note TEXT,
    prev_hash BLOB, hash BLOB);
INSERT INTO events_v5 (dossier_id, seq, at, kind, trigger, from_state, to_state, status, actor, agency, custodian,
                       definition_version, effects, note, prev_hash, hash)
    SELECT dossier_id, seq, at, kind, trigger, from_state, to_state, status, actor, agency, custodian,
           definition_version, effects, note, prev_hash, hash FROM events ORDER BY at, dossier_id, seq;
DROP TABLE events;
ALTER TABLE events_v5 RENAME TO events;
CREATE UNIQUE INDEX events_dossier_seq ON events (dossier_id, seq);
CREATE TABLE vault_v5 (
    id INTEGER PRIMARY KEY, dossier_id TEXT NOT NULL, seq INTEGER NOT NULL, key_id TEXT NOT NULL, value BLOB,
    erased_at TEXT);
INSERT INTO vault_v5 (dossier_id, seq, key_id, value, erased_at)
    SELECT dossier_id, seq, key_id, value, erased_at FROM vault ORDER BY dossier_id, seq;
DROP TABLE vault;
ALTER TABLE vault_v5 RENAME TO vault;
CREATE UNIQUE INDEX vault_dossier_seq ON vault (dossier_id, seq)
"""


# Version 6 (SQLite) / 5 (PostgreSQL): time limits are counted as the Civil Code 2015 (art. 147) counts
# periods — the receipt day is not counted — where procflow before 2026.12 counted it as day 1, one working
# day early. Every dossier already in the store when this step runs is listed; ``procflow db upgrade``
# then recounts the deadline of each one still open and records it as one event (``due_recounted``), and
# marks the row done in the same transaction. Dossiers filed after this step are counted right already.
_DUE_RECOUNT = """
CREATE TABLE IF NOT EXISTS due_recount (dossier_id TEXT PRIMARY KEY, done_at TEXT);
INSERT INTO due_recount (dossier_id) SELECT id FROM dossiers
"""


# Version 7 (SQLite) / 6 (PostgreSQL): the ids of the keys that sealed this store's values. A store copied or
# restored without its keyring is then recognised on open (procflow.privacy.vault.Vault.check_keys), instead of a new
# keyring being made for it. Filled from the values already stored.
_VAULT_KEYS = """
CREATE TABLE IF NOT EXISTS vault_keys (key_id TEXT PRIMARY KEY);
INSERT INTO vault_keys (key_id)
    SELECT DISTINCT key_id FROM vault WHERE key_id NOT IN ('plain', 'erased') ON CONFLICT DO NOTHING
"""


# Version 8 (SQLite) / 7 (PostgreSQL): liên thông bundles (procflow.bundle) and the simulator's checkpoint and
# backlog samples (procflow.simulate) get the same tables on both backends, written in the caller's
# transaction through the store's named methods (``save_bundle``, ``save_sim_checkpoint`` …). SQLite stores
# that created these tables on first use before this step keep them (``IF NOT EXISTS``). Instants are kept
# as ISO text on both backends so a bundle's event reads back exactly as written (offset included).
_SQLITE_RECORDS = """
CREATE TABLE IF NOT EXISTS bundle_definitions (code TEXT NOT NULL, version INTEGER NOT NULL,
    content_hash TEXT NOT NULL, source TEXT NOT NULL, PRIMARY KEY (code, version));
CREATE TABLE IF NOT EXISTS bundles (id TEXT PRIMARY KEY, record TEXT NOT NULL, status INTEGER NOT NULL,
    revision INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS bundle_members (dossier_id TEXT PRIMARY KEY, bundle_id TEXT NOT NULL, member TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS bundle_events (bundle_id TEXT NOT NULL, seq INTEGER NOT NULL, at TEXT NOT NULL,
    kind TEXT NOT NULL, status INTEGER NOT NULL, actor TEXT NOT NULL, effects TEXT NOT NULL,
    PRIMARY KEY (bundle_id, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sim_checkpoint (id INTEGER PRIMARY KEY CHECK (id = 1), fingerprint TEXT NOT NULL,
    state TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sim_backlog (at TEXT NOT NULL, agency TEXT NOT NULL, open INTEGER NOT NULL,
    overdue INTEGER NOT NULL, paused INTEGER NOT NULL, PRIMARY KEY (at, agency)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sim_online (dossier_id TEXT PRIMARY KEY) WITHOUT ROWID
"""


_POSTGRES_RECORDS = """
CREATE TABLE IF NOT EXISTS bundle_definitions (code text NOT NULL, version integer NOT NULL,
    content_hash text NOT NULL, source text NOT NULL, PRIMARY KEY (code, version));
CREATE TABLE IF NOT EXISTS bundles (id text PRIMARY KEY, record text NOT NULL, status smallint NOT NULL,
    revision integer NOT NULL);
CREATE TABLE IF NOT EXISTS bundle_members (dossier_id text PRIMARY KEY, bundle_id text NOT NULL, member text NOT NULL);
CREATE INDEX IF NOT EXISTS bundle_members_bundle ON bundle_members (bundle_id);
CREATE TABLE IF NOT EXISTS bundle_events (bundle_id text NOT NULL, seq integer NOT NULL, at text NOT NULL,
    kind text NOT NULL, status smallint NOT NULL, actor text NOT NULL, effects text NOT NULL,
    PRIMARY KEY (bundle_id, seq));
CREATE TABLE IF NOT EXISTS sim_checkpoint (id integer PRIMARY KEY CHECK (id = 1), fingerprint text NOT NULL,
    state text NOT NULL);
CREATE TABLE IF NOT EXISTS sim_backlog (at text NOT NULL, agency text NOT NULL, open integer NOT NULL,
    overdue integer NOT NULL, paused integer NOT NULL, PRIMARY KEY (at, agency));
CREATE TABLE IF NOT EXISTS sim_online (dossier_id text PRIMARY KEY)
"""


# Version 9 (SQLite) / 8 (PostgreSQL): the officials directory (procflow.privacy.directory): who may act, for which
# agency, with which roles, from when to when, and which officials an operator may act for. Dates are ISO text
# and sets JSON text on both backends, so a row reads back exactly as written.
_OFFICIALS = """
CREATE TABLE IF NOT EXISTS officials (id TEXT PRIMARY KEY, name TEXT NOT NULL, agency TEXT NOT NULL,
    roles TEXT NOT NULL, valid_from TEXT, valid_to TEXT, acts_for TEXT NOT NULL, credential TEXT)
"""


# Version 10 (SQLite) / 9 (PostgreSQL): the anchored log (procflow.privacy.anchor, issue 19). The access audit gets its
# own hash chain (prev_hash, hash; rows written before stay unchained and are reported as such);
# ``anchor_heads`` keeps each dossier's last anchored (seq, head) — kept after a dossier disappears, as the
# evidence that it existed — and ``checkpoints`` the signed chain of checkpoints over those heads.
_SQLITE_ANCHOR = """
ALTER TABLE audit ADD COLUMN prev_hash BLOB;
ALTER TABLE audit ADD COLUMN hash BLOB;
CREATE TABLE IF NOT EXISTS anchor_heads (dossier_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, head BLOB NOT NULL)
    WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checkpoints (seq INTEGER PRIMARY KEY, at TEXT NOT NULL, kind TEXT NOT NULL,
    body TEXT NOT NULL, digest BLOB NOT NULL, key_id TEXT, signature BLOB)
"""


_POSTGRES_ANCHOR = """
ALTER TABLE audit ADD COLUMN IF NOT EXISTS prev_hash bytea;
ALTER TABLE audit ADD COLUMN IF NOT EXISTS hash bytea;
CREATE TABLE IF NOT EXISTS anchor_heads (dossier_id text PRIMARY KEY, seq integer NOT NULL, head bytea NOT NULL);
CREATE TABLE IF NOT EXISTS checkpoints (seq integer PRIMARY KEY, at text NOT NULL, kind text NOT NULL,
    body text NOT NULL, digest bytea NOT NULL, key_id text, signature bytea)
"""



# Version 11 (SQLite): the two queues every durable transition and every timer firing appends to lose
# AUTOINCREMENT. Nothing ever deletes their rows, so a plain INTEGER PRIMARY KEY hands out the same
# increasing ids, while AUTOINCREMENT also rewrote the sqlite_sequence row — one more page in every commit's
# WAL frames (measured with benchmarks/bench_engine.py, issue 17). The outbox's due index keeps only
# deliverable rows (delivered and dead ones leave it), as PostgreSQL's always did. Ids are kept as they were.
_SQLITE_LEAN_QUEUES = """
CREATE TABLE outbox_v11 (
    id INTEGER PRIMARY KEY, topic TEXT NOT NULL, key TEXT NOT NULL UNIQUE,
    dossier_id TEXT NOT NULL, payload TEXT NOT NULL, created_at TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,
    available_at TEXT NOT NULL, claimed_by TEXT, lease_until TEXT, last_error TEXT, delivered_at TEXT);
INSERT INTO outbox_v11 SELECT id, topic, key, dossier_id, payload, created_at, status, attempts, available_at,
    claimed_by, lease_until, last_error, delivered_at FROM outbox ORDER BY id;
DROP TABLE outbox;
ALTER TABLE outbox_v11 RENAME TO outbox;
CREATE INDEX outbox_due ON outbox (available_at) WHERE status = 'pending';
CREATE TABLE timer_log_v11 (
    id INTEGER PRIMARY KEY, dossier_id TEXT NOT NULL, name TEXT NOT NULL,
    armed_seq INTEGER NOT NULL, action TEXT NOT NULL, fire_at TEXT NOT NULL, fired_at TEXT NOT NULL,
    outcome TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '', worker TEXT NOT NULL,
    UNIQUE (dossier_id, name, armed_seq));
INSERT INTO timer_log_v11 SELECT id, dossier_id, name, armed_seq, action, fire_at, fired_at, outcome, detail, worker
    FROM timer_log ORDER BY id;
DROP TABLE timer_log;
ALTER TABLE timer_log_v11 RENAME TO timer_log;
DELETE FROM sqlite_sequence WHERE name IN ('outbox', 'timer_log')
"""
