"""The bundled architecture specs (YAML), installed as package data."""
