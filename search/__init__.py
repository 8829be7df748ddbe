"""Search and route: find a person's sightings by description, photo or example, and chain them into a route.

Entry points: :class:`search.engine.SearchEngine`, :func:`search.route.build_route`; see README.md here.
Kept import-free so that ``footage-search`` starts fast and ``search.errors`` loads without LanceDB.
"""
