"""neurosig.tokenizers"""
