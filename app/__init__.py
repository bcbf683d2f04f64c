"""The gateway service: FastAPI application, persistence and domain services."""
