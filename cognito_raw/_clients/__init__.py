"""The clients: thin shells that carry out what the call driver decides.

``shell`` is what every client shares, with no HTTP library; each other
module moves bytes over one HTTP stack: ``httpx_client`` (``Client`` and
``AsyncClient`` over httpx), ``stdlib_client`` (``http.client``) and
``fetch_client`` (JavaScript's ``fetch`` under Pyodide). Only
``httpx_client`` imports httpx, so this package's ``__init__`` imports
nothing: ``cognito_raw.stdlib`` and ``cognito_raw.fetch`` load no httpx.
"""
