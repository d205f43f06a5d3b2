"""Pipelines that turn an upload into an Item: sniff → store original → derive → index."""
