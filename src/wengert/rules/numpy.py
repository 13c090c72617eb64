"""Rules for numpy (see wengert.rules.table for the conventions)."""
