"""Transforming functions on demand and calling what they call: the compile cache
(`cache`, both modes) and the dispatch ladder (`ladder`, written once; `pullbacks` and
`jvps` are its rungs for reverse and forward mode)."""
