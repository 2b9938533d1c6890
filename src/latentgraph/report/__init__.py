"""Reports: sweep aggregation (and, later, the per-run HTML report)."""
