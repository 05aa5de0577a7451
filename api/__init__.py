"""The composition root: app factory, lifespan, auth, HTTP routes, CLI."""
