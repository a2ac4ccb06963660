"""Reading community dumps, cleaning, scrubbing, building pairs. Never imports torch at module level."""
