"""The API's routes, one module per concern; each builds its router from the shared `Serving`."""
