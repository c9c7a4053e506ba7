"""dj-stripe's schema, generated for it: see migrations/__init__.py."""
