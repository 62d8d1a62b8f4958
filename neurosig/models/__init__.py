"""neurosig.models"""
