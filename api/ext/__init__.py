"""One module per capability that adds HTTP routes, lifespan components or demo data
to the app (through api.app.add_routes / add_components and api.seed.seed_step)."""
