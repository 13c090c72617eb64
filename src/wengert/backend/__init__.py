"""Generated code: naming, emitting Python source, compiling it, mapping lines back."""
