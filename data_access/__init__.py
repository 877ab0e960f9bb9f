"""Data layer: models, migrations, importers, aggregate refresh and scoped queries.

Nothing here knows about Dash or Flask requests; every query function takes the
already-authorized scope as an argument.
"""
