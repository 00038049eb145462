"""Data steps of create_data: read raw files, assess quality, split, store a version."""
