"""The reverse transform: the plan (what each call records), the primal pass and the adjoint pass."""
