"""Full-text search: one SearchBackend interface, Whoosh and Elasticsearch implementations."""
