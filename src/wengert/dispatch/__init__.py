"""The cache of compiled derivative code and the dispatch ladder that finds a callee's derivative."""
