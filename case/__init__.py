"""Case mode: start from a last-seen report and analyse the footage a person on foot could be in, nearest first.

A floor between the console (``ui``) and ``search | indexer``: it plans which (camera, time window) spans to
analyse (:mod:`case.planner`), keeps a case's persistent state (:mod:`case.state`) and decides when new
sightings move the search on (:mod:`case.follow`). The planner and the follow logic are pure.
"""
