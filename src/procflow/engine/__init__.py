"""The engine: fires transitions on plain dossier records, one transaction per change.

``core`` coordinates; authorisation (``authoriser``), guards, timer planning (``timers``), outbox rules
(``outbox``) and the event writer each live in their own module, so a reader of one concern reads one file.
"""

from procflow.engine.authoriser import Authoriser
from procflow.engine.core import Engine
from procflow.engine.outbox import Delivery, OutboxTopic

__all__ = ["Authoriser", "Delivery", "Engine", "OutboxTopic"]
