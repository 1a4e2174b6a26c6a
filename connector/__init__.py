"""msr-engage: candidate-engagement connector for Mysolution Recruitment (Salesforce).

Public API: the event format (`connector.events`), settings (`connector.config`) and the pure
scoring core (`connector.scoring`).
"""

__version__ = "0.1.0"
