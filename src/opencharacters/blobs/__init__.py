"""Object storage and signed URLs."""
