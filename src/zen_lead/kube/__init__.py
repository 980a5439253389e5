"""The API layer: connection set-up, a rate-limited instrumented client, slim cached structs,
informers (list + watch with 410-safe relist) and server-side apply. Depends on nothing above it."""
