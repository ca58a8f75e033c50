"""Results: exact analyses, simulations and flows as labelled pandas objects,
built from the core's result objects and the journey passed in."""
