"""Real-time predictions: the Model Serving REST contract, locally and on Databricks."""
