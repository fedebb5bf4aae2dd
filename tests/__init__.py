"""Tests for the Printernizer Usage Statistics integration."""
