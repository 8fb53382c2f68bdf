"""One service per model (digits, tone, essay, tracks, friend) plus the daily track scheduler:
each loads its model, caches results and runs model work off the event loop."""
