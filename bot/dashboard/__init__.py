"""The supervisor's dashboard (``/console/dashboard``) and the service report (``python -m bot report``).

``queries`` computes every figure (one dict: the page, the CSV/Excel downloads and the
command line show the same numbers), ``topics`` finds what complaints are about,
``views`` serves the page and its data, ``report`` writes JSON, CSV and Excel.
"""
