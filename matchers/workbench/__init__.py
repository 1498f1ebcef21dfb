"""Queries and tables of the review workbench (the web app in `web/`); pure, no web imports."""
