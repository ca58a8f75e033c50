"""Model files: journeys and plans saved and loaded as YAML or JSON."""
