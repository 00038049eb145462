"""The Databricks Asset Bundle as data: loaded, resolved for a target, and run locally."""
