"""Operator-overloading fallbacks: Dual numbers (forward) and the run-time tape (reverse)."""
