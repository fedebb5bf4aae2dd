"""Local stand-ins for Printernizer and its statistics service (development and tests)."""
