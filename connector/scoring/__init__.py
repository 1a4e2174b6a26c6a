"""The pure scoring core: events + rules + now in, contact state out. No I/O, no clock."""

from connector.scoring.engine import Rulebook, keep_monotone, score_contact
from connector.scoring.model import (
    BAND_ORDER,
    EMPTY_DETAILS,
    Band,
    ContactState,
    Line,
    LineEvent,
    Medal,
    RecruitmentDetails,
    higher_medal,
)

__all__ = [
    "BAND_ORDER",
    "EMPTY_DETAILS",
    "Band",
    "ContactState",
    "Line",
    "LineEvent",
    "Medal",
    "RecruitmentDetails",
    "Rulebook",
    "higher_medal",
    "keep_monotone",
    "score_contact",
]
