"""Talking to a Databricks workspace (through the Databricks SDK): the deployed bundle jobs."""
