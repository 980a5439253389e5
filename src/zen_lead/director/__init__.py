"""The Service director: a functional core (``core``) that decides, and an async shell that applies."""
