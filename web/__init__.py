"""Flask app factory + blueprints. ``from web.app import create_app``."""
