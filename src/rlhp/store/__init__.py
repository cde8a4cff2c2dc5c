"""The label store: segments, pairs, every answer and its corrections, in one database.

- ``labels``: ``LabelStore``, what the trainer, the labellers and the web app use;
- ``schema``: the tables and the format version;
- ``blobs``: how a segment's arrays are kept as bytes (``.npz``, no pickles);
- ``engine``: store locations (an SQLite file or a PostgreSQL URL) and connections;
- ``labelling``: the labelling page's queries (soft locks across servers, answers);
- ``names``: the rule every labeller name follows (the page's and ``labels import``'s).

Imports SQLAlchemy and NumPy only, never torch: the labelling server depends on it.
Nothing is imported here, so a command that only parses a store location
(``store.engine``) does not load the store itself and NumPy.
"""
