"""Turning what callers give (URLs, data URIs, uploads) into validated media."""
