"""`sgarch size` (placeholder until the estimator lands in this change)."""
