"""Use-cases: each a plain class taking its ports in the constructor and exposing one verb."""
