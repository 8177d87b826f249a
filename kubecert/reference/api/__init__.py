"""The reference Palette-like HTTP API: routes (app), auth, errors, TLS, and the server that runs them.

Nothing is imported here, so that ``kubecert``'s command line does not load FastAPI until ``serve`` runs.
"""
