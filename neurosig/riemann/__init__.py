"""neurosig.riemann"""
