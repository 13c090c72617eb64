"""Rules for builtins (see wengert.rules.table for the conventions)."""
