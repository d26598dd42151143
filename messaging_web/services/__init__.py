"""The domain: plain functions over the database session; no request, no HTML."""
