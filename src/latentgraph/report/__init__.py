"""Reports: the per-run report.html and the sweep aggregation."""
