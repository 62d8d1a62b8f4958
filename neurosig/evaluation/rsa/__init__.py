"""neurosig.evaluation.rsa"""
