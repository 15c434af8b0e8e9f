"""HTTP API: the FastAPI app, its routes and the chat page."""
