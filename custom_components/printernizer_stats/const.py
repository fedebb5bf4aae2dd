"""Constants for the Printernizer Usage Statistics integration."""

from __future__ import annotations

from datetime import timedelta
import logging
import os
from typing import Final

DOMAIN: Final = "printernizer_stats"
LOGGER = logging.getLogger(__package__)

# Config entry data (set by the user step / reconfigure flow).
CONF_URL: Final = "url"
# Config entry options (consent and submission settings, options flow).
CONF_SHARE: Final = "share_statistics"
CONF_CONSENT_VERSION: Final = "consent_version"
CONF_CONSENT_DAY: Final = "consent_day"
CONF_ENDPOINT: Final = "endpoint"
CONF_API_KEY: Final = "api_key"

DEFAULT_URL: Final = "http://localhost:8000"
DEFAULT_ENDPOINT: Final = "https://stats.printernizer.com/submit"
DEFAULT_API_KEY: Final = ""
# The development instance (scripts/develop) sets this to its local emulator so
# that nothing it does can reach the real service.
ENV_ENDPOINT: Final = "PRINTERNIZER_STATS_ENDPOINT"

# The version of the privacy disclosure the user accepts. Raise it whenever
# the weekly report gains a field: submissions pause until the user re-consents.
CONSENT_VERSION: Final = 1

SCAN_INTERVAL: Final = timedelta(seconds=60)
REQUEST_TIMEOUT: Final = 10
RETENTION_DAYS: Final = 90
SAVE_DELAY: Final = 30

# Bus event through which Printernizer, automations and scripts push events.
EVENT_PRINTERNIZER_STATS: Final = "printernizer_stats_event"
ATTR_EVENT_TYPE: Final = "event_type"
ATTR_METADATA: Final = "metadata"

SERVICE_RECORD_EVENT: Final = "record_event"
SERVICE_EXPORT: Final = "export"
SERVICE_DELETE_ALL: Final = "delete_all"
SERVICE_SUBMIT_NOW: Final = "submit_now"
SERVICE_PREVIEW: Final = "preview"


def default_endpoint() -> str:
    """The endpoint new entries start with."""
    return os.environ.get(ENV_ENDPOINT) or DEFAULT_ENDPOINT
