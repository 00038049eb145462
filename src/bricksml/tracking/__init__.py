"""MLflow: where runs go, and the model registry rules (Unity Catalog's, also locally)."""
