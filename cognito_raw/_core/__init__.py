"""The sans-I/O core: everything about UpdateAuthEventFeedback, nothing about sockets.

Owns the value class (``record``), the request and response model
(``model``), the exception tree (``errors``), the endpoint rules
(``endpoints``), the awsJson1.1 wire (``protocol``) and a request shown as
text (``wiretext``). Standard library only, and it imports nothing else of
cognito_raw but ``_version``: the call driver, the clients, the links, the
testing kit and the CLI are built on it (tests/test_layers.py checks both).
"""
