"""neurosig.preprocessing"""
