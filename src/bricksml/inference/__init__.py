"""Batch scoring: which model, which input, streamed in chunks to an immutable output."""
