"""The HTTP entrypoint: FastAPI app, request/response schemas, Prometheus metrics."""
