"""Rules for operators (see wengert.rules.table for the conventions)."""
