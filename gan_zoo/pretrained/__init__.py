"""Importers for generators trained by other projects."""
