"""Capabilities that add HTTP routes or background components to the app.

Each import registers through `api.app.add_routes` / `add_components`.
"""
