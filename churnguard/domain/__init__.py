"""The pure core: table schemas and customer profiles, features, the promotion policy,
attribution, versions.

Standard library and numpy only; no I/O and no framework imports.
"""
