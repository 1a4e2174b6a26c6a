"""The pixel room: visit-log sources, parsing, robots, identity and visits; an optional collector.

Pure apart from reading files and the provider's API; state between runs goes in and out as plain
data (`PixelState`), which the ledger stores.
"""

from connector.pixel.bots import CrawlerFilter, too_fast
from connector.pixel.hits import Hit, Reason, truncate_ip
from connector.pixel.hits_combined import parse_combined
from connector.pixel.hits_csv import parse_csv
from connector.pixel.hits_ndjson import parse_ndjson
from connector.pixel.identity import PendingHit, attribute, sign_token, verify_token
from connector.pixel.pipeline import Counts, Outcome, PixelState, Toolkit, process
from connector.pixel.records import job_view_rows, visit_rows
from connector.pixel.sessions import VacancyMatcher, sessionise
from connector.pixel.sources import FileMark, FileRead, ReadStatus, fetch_pages, read_new_lines

__all__ = [
    "Counts",
    "CrawlerFilter",
    "FileMark",
    "FileRead",
    "Hit",
    "Outcome",
    "PendingHit",
    "PixelState",
    "ReadStatus",
    "Reason",
    "Toolkit",
    "VacancyMatcher",
    "attribute",
    "fetch_pages",
    "job_view_rows",
    "parse_combined",
    "parse_csv",
    "parse_ndjson",
    "process",
    "read_new_lines",
    "sessionise",
    "sign_token",
    "too_fast",
    "truncate_ip",
    "verify_token",
    "visit_rows",
]
