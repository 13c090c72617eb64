"""Rules for math (see wengert.rules.table for the conventions)."""
