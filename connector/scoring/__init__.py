"""The pure scoring core: events + rules + now in, contact state out. No I/O, no clock."""

from connector.scoring.engine import Rulebook, score_contact
from connector.scoring.model import ContactState, Line, LineEvent

__all__ = ["ContactState", "Line", "LineEvent", "Rulebook", "score_contact"]
