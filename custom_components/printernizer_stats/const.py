"""Constants for the Printernizer Usage Statistics integration."""

from __future__ import annotations

from datetime import timedelta
import logging
import os
from typing import Final

DOMAIN: Final = "printernizer_stats"
LOGGER = logging.getLogger(__package__)

# Config entry data.
CONF_URL: Final = "url"
# The end of the last accepted period and every installation id a service
# may hold (with that service): kept in the entry as well, so losing the
# statistics file neither resends reported days nor forgets an erasure. The
# key used at each such service stays here too, never in the statistics file.
DATA_REPORTED_UNTIL: Final = "reported_until"
DATA_SERVICE_IDS: Final = "service_ids"
DATA_SERVICE_KEYS: Final = "service_keys"
# Config entry options (consent: see consent.py; submission settings).
CONF_ENDPOINT: Final = "endpoint"
CONF_API_KEY: Final = "api_key"
# Raised whenever the endpoint or the API key changes: a stop after a
# rejected key ends when the credentials are new (the key is never hashed
# or stored twice to find that out).
CONF_CREDENTIALS_GENERATION: Final = "credentials_generation"

DEFAULT_URL: Final = "http://localhost:8000"
DEFAULT_ENDPOINT: Final = "https://stats.printernizer.com/submit"
DEFAULT_API_KEY: Final = ""
# The development instance (scripts/develop) sets these so nothing it does
# can reach the real service.
ENV_ENDPOINT: Final = "PRINTERNIZER_STATS_ENDPOINT"
ENV_API_KEY: Final = "PRINTERNIZER_STATS_API_KEY"

SCAN_INTERVAL: Final = timedelta(seconds=60)
# system/info and usage-stats/status are read this rarely (rate budget).
SLOW_POLL_INTERVAL: Final = timedelta(minutes=10)
SAVE_DELAY: Final = 30

# Bus event through which Printernizer, automations and scripts push events.
EVENT_PRINTERNIZER_STATS: Final = "printernizer_stats_event"
ATTR_EVENT_TYPE: Final = "event_type"
ATTR_METADATA: Final = "metadata"
ATTR_PATH: Final = "path"

SERVICE_RECORD_EVENT: Final = "record_event"
SERVICE_EXPORT: Final = "export"
SERVICE_DELETE_ALL: Final = "delete_all"
SERVICE_SUBMIT_NOW: Final = "submit_now"
SERVICE_PREVIEW: Final = "preview"
SERVICE_SENT_REPORTS: Final = "sent_reports"

ISSUE_RECONSENT: Final = "reconsent_required"
ISSUE_REJECTED: Final = "report_rejected"
ISSUE_ERASURE: Final = "erasure_failing"
ISSUE_STORAGE: Final = "storage_recovered"
ISSUE_RECORDER: Final = "events_recorded"
ISSUE_PRINTERNIZER_BUSY: Final = "printernizer_busy"


def default_endpoint() -> str:
    """The endpoint new entries start with."""
    return os.environ.get(ENV_ENDPOINT) or DEFAULT_ENDPOINT


def default_api_key() -> str:
    """The API key new entries start with (the development emulator's in scripts/develop)."""
    return os.environ.get(ENV_API_KEY) or DEFAULT_API_KEY
