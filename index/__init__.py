"""Cove's index library: loaders, chunking, embeddings, vector and keyword stores, search.

A library: every function takes its inputs explicitly and never reads the daemon's config.
"""
