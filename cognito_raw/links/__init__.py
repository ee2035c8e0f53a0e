"""Feedback links for threat-protection emails, and the page they open.

Cognito's risky sign-in email can link to your own site instead of the
pool's Cognito domain. This module builds those links and reads them back:

- ``template_link`` gives the link to paste into the notification template,
  with Cognito's ``{event-id}``, ``{feedback-token}`` and ``{username}``
  placeholders in it (one link per answer, ``valid`` and ``invalid``);
- ``make_link`` fills the same link with concrete values, for a Custom email
  sender (see ``from_custom_email_sender_event``) and for tests;
- ``parse_link`` turns a link, as written or as a browser sent it, back into
  a validated ``UpdateAuthEventFeedbackRequest``;
- ``feedback_app`` is the ASGI application the links open: a confirmation
  page on GET, the submission on POST; with ``outbox=`` (an ``Outbox`` or
  its URL) submissions are kept in a database until delivered.

Standard library only: nothing here imports httpx; ``feedback_app`` takes any
object with an ``async send(request)`` method, such as ``cognito_raw.AsyncClient``.
"""

from __future__ import annotations

from ._app import (
    DEFAULT_GLOBAL_LIMIT,
    DEFAULT_PER_CLIENT_LIMIT,
    FeedbackApp,
    FeedbackSender,
    RateLimit,
    client_key,
    feedback_app,
)
from ._event import FeedbackContext, FeedbackLinks, from_custom_email_sender_event
from ._outbox.deliverer import Outbox
from ._outbox.store import OutboxError
from ._page import DEFAULT_STYLESHEET, FeedbackOutcome, FeedbackTexts
from ._url import MAX_LINK_LENGTH, make_link, parse_link, template_link

__all__ = [
    "DEFAULT_GLOBAL_LIMIT",
    "DEFAULT_PER_CLIENT_LIMIT",
    "DEFAULT_STYLESHEET",
    "MAX_LINK_LENGTH",
    "FeedbackApp",
    "FeedbackContext",
    "FeedbackLinks",
    "FeedbackOutcome",
    "FeedbackSender",
    "FeedbackTexts",
    "Outbox",
    "OutboxError",
    "RateLimit",
    "client_key",
    "feedback_app",
    "from_custom_email_sender_event",
    "make_link",
    "parse_link",
    "template_link",
]
