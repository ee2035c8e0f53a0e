"""The feedback app's pages: the outcomes they tell, overridable texts, the stylesheet, the HTML.

Owns everything the user reads, and ``FeedbackOutcome``, the outcome of a
submission that picks the result page (the app and its outbox flow both
answer with one). Every text is HTML-escaped when rendered, so
overriding one cannot inject markup; the only markup comes from this module.
There is no script at all, and the one inline stylesheet is allowed by its
hash in the Content-Security-Policy (``style_hash``).
"""

from __future__ import annotations

import base64
import enum
import hashlib
import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

__all__ = ["DEFAULT_STYLESHEET", "FeedbackOutcome", "FeedbackTexts", "render_page", "style_hash"]


class FeedbackOutcome(str, enum.Enum):
    """What became of a submission, as the result page tells it.

    ``ACCEPTED`` (202) is the outbox's: stored, to be delivered later.
    """

    SUCCESS = "success"
    ACCEPTED = "accepted"
    ALREADY_RECORDED = "already_recorded"
    EXPIRED = "expired"
    UNAVAILABLE = "unavailable"
    ERROR = "error"


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedbackTexts:
    """Every text the feedback pages show, in English by default.

    Override any of them for another language or your own voice::

        FeedbackTexts(lang="fr", brand="Exemple", confirm_valid_button="Oui, c'était moi", ...)

    ``brand`` (your site's name) heads every page and ends its title when set.
    Texts are plain text: they are escaped, never read as HTML.
    """

    lang: str = "en"
    brand: str = ""
    confirm_valid_title: str = "Was this you?"
    confirm_valid_body: str = (
        "You are about to confirm that the recent sign-in to your account was you. "
        "Nothing has been sent yet."
    )
    confirm_valid_button: str = "Yes, it was me"
    confirm_invalid_title: str = "Report a sign-in that wasn't you"
    confirm_invalid_body: str = (
        "You are about to report that the recent sign-in to your account was not you. "
        "Nothing has been sent yet."
    )
    confirm_invalid_button: str = "It wasn't me, report it"
    success_title: str = "Thank you"
    success_valid_body: str = "Your answer has been recorded. There is nothing more to do."
    success_invalid_body: str = (
        "Your report has been recorded. To keep your account safe, change your password now."
    )
    accepted_title: str = "Your answer is received"
    accepted_body: str = (
        "Your answer is received and will be delivered shortly. There is nothing more to do."
    )
    already_recorded_title: str = "Already recorded"
    already_recorded_body: str = (
        "Your answer for this sign-in was already recorded. There is nothing more to do."
    )
    expired_title: str = "This link has expired or is not valid"
    expired_body: str = (
        "Your answer could not be recorded with this link. If you are worried about "
        "your account, change your password."
    )
    unavailable_title: str = "Please try again"
    unavailable_body: str = (
        "Your answer could not be recorded just now. Please try again in a moment."
    )
    retry_button: str = "Try again"
    error_title: str = "Something went wrong"
    error_body: str = (
        "Your answer could not be recorded. Please try again later. If you are worried "
        "about your account, change your password."
    )
    invalid_link_title: str = "This link does not work"
    invalid_link_body: str = (
        "Part of the link may be missing. Open it again from the email; if your mail "
        "app split it over two lines, copy the whole link into your browser."
    )
    forbidden_title: str = "This request was blocked"
    forbidden_body: str = (
        "For your safety, answers are accepted only from this site's own page. Open the "
        "link from the email again and use the button there."
    )
    too_many_title: str = "Too many attempts"
    too_many_body: str = "Please wait a minute, then try again."
    bad_request_title: str = "This request cannot be handled"
    bad_request_body: str = "Open the link from the email again."


# Plain, phone-first, high-contrast; a dark variant; a visible focus ring.
DEFAULT_STYLESHEET: Final = """\
:root{color-scheme:light dark;--fg:#1b1b1f;--bg:#fafafa;--muted:#4a4a55;--accent:#0b57d0;\
--accent-fg:#fff;--card:#fff;--line:#d6d6dd}
@media (prefers-color-scheme:dark){:root{--fg:#ececf1;--bg:#121214;--muted:#b9b9c4;\
--accent:#8ab4f8;--accent-fg:#0b1b33;--card:#1d1d21;--line:#3a3a42}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);\
font:1.0625rem/1.55 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{max-width:34rem;margin:0 auto;padding:2rem 1.25rem}
.card{background:var(--card);border:1px solid var(--line);border-radius:.75rem;padding:1.5rem}
.brand{margin:0 0 1rem;color:var(--muted);font-weight:600}
h1{font-size:1.5rem;line-height:1.25;margin:0 0 .75rem}
p{margin:0 0 1rem}
.card>:last-child{margin-bottom:0}
form{margin:1.5rem 0 0}
button{width:100%;min-height:3rem;padding:.75rem 1rem;border:0;border-radius:.5rem;\
background:var(--accent);color:var(--accent-fg);font:inherit;font-weight:600;cursor:pointer}
button:focus-visible{outline:3px solid var(--fg);outline-offset:3px}
"""


def style_hash(stylesheet: str) -> str:
    """The CSP source for an inline stylesheet: ``'sha256-...'``."""
    digest = hashlib.sha256(stylesheet.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def render_page(
    *,
    texts: FeedbackTexts,
    stylesheet: str,
    title: str,
    paragraphs: Sequence[str],
    form_fields: Mapping[str, str] | None = None,
    button: str | None = None,
) -> bytes:
    """One complete page: a heading, paragraphs and, optionally, the POST form."""
    full_title = f"{title} \u2013 {texts.brand}" if texts.brand else title
    parts = [
        "<!doctype html>",
        f'<html lang="{_e(texts.lang)}">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="robots" content="noindex, nofollow">',
        f"<title>{_e(full_title)}</title>",
        f"<style>{stylesheet}</style>",
        "</head>",
        "<body>",
        "<main>",
    ]
    if texts.brand:
        parts.append(f'<p class="brand">{_e(texts.brand)}</p>')
    parts.append('<div class="card">')
    parts.append(f"<h1>{_e(title)}</h1>")
    parts += [f"<p>{_e(p)}</p>" for p in paragraphs]
    if form_fields is not None and button is not None:
        # action="?": post to this same path with an empty query, so the
        # token travels in the body and stays out of the POST's request line
        # (and out of access logs).
        parts.append('<form method="post" action="?" accept-charset="utf-8">')
        parts += [
            f'<input type="hidden" name="{_e(name)}" value="{_e(value)}">'
            for name, value in form_fields.items()
        ]
        parts.append(f'<button type="submit">{_e(button)}</button>')
        parts.append("</form>")
    parts += ["</div>", "</main>", "</body>", "</html>", ""]
    return "\n".join(parts).encode("utf-8")
