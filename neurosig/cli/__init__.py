"""Command-line interface (``neurosig VERB`` / ``neurosig GROUP VERB``)."""
