"""The pure scoring core: events + rules + now in, contact state out. No I/O, no clock."""

from connector.scoring.engine import Rulebook
from connector.scoring.model import ContactState, Line, LineEvent

__all__ = ["ContactState", "Line", "LineEvent", "Rulebook"]
