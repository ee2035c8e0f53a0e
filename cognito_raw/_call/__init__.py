"""The sans-I/O call driver and its configuration.

``config`` holds the values a caller sets (``RetryPolicy``, ``Timeout``);
``limiter`` the token bucket and the client's ``RateLimiter``; ``driver``
``run_call``, the generator that makes every decision of one call, with the
actions it yields and the ``Reply`` a client hands back. Standard library
only, and of cognito_raw only the core (``_core``): the clients carry out
what ``run_call`` decides. ``asgi`` is the server side's one use of the
driver's ``BodyReader``: the request body both ASGI apps (the feedback app,
the fake) read within a limit.
"""
