"""Full-text search: one SearchBackend interface, Whoosh and Elasticsearch implementations.

Other layers never talk to a backend directly: they write an ``IndexTask`` row (the outbox,
``UnitOfWork.reindex``) in the same transaction as their change, and :func:`drain_outbox`
pushes those to the configured backend (and keeps them when the backend is unreachable).
"""
from search.outbox import drain_outbox  # noqa: F401
