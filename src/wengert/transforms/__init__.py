"""IR -> derivative code: reverse (primal + adjoint) and forward (tangent) transforms."""
