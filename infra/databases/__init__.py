"""The two databases the service runs on, one module each, named by ``PERSISTENCE_MODULE``.

Each module subclasses the library's application recorder and factory (its own pattern, as in
``examples/searchabletimestamps``) and implements ``projections.database.Database``: they are the
only modules that know which database they talk to. ``infra/persistence.py`` picks one from the
database URL.
"""
