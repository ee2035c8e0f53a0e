"""The durable outbox behind ``feedback_app(..., outbox=...)`` and ``cognito-raw outbox``.

``store`` is what a submission is at rest (the states, the rows);
``sql`` the store (``SQLStore``) and the statements both backends run, ``sqlite``
and ``postgres`` the backends; ``deliverer`` the settings (``Outbox``), the
verdicts and the one delivery loop; ``cli`` the ``outbox`` commands. Each
module imports only those before it in this list, so none of them cycles.
"""
