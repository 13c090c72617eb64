"""The frontend: a Python function's source -> normalised AST -> SSA IR."""
