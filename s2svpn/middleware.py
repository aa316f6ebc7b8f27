"""A broker that does not answer is a message on the page, never a 500.

Every enqueue goes through ``s2svpn.broker.Task.apply_async``, which records what it could not
send in ``broker.UNSENT`` for the current request; this middleware opens that record per request
and turns it into one message. A broker error raised anywhere else in a view is caught here too.
"""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme

from s2svpn import broker

LABELS = {
    "monitor.tasks.poll_sites": "Poll now",
    "monitor.tasks.reset_gateway": "Reset gateway",
}
DOWN = "The task queue (Redis) is not answering."


def unsent_message(names: list[str]) -> str:
    """What to tell the user about the tasks that could not be sent."""
    lost = sorted({LABELS.get(name, name.rsplit(".", 1)[-1]) for name in names if name in LABELS})
    parts = [DOWN]
    if any(not name.startswith("monitor.") for name in names):
        parts.append(
            "The run is saved and no worker is needed to keep it: its steps start by themselves "
            "once the queue answers again."
        )
    if lost:
        parts.append(f"Not sent: {', '.join(lost)}. Try again once the queue answers.")
    return " ".join(parts)


class BrokerDownMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = broker.UNSENT.set([])
        try:
            response = self.get_response(request)
            unsent = broker.UNSENT.get()
        finally:
            broker.UNSENT.reset(token)
        if unsent and hasattr(request, "_messages"):
            messages.warning(request, unsent_message(unsent))
        return response

    def process_exception(self, request, exception):
        if not isinstance(exception, broker.BROKER_ERRORS) or isinstance(exception, OSError):
            return None
        messages.error(request, f"{DOWN} Nothing was sent; try again once it answers.")
        back = request.META.get("HTTP_REFERER", "")
        if not url_has_allowed_host_and_scheme(back, {request.get_host()}, request.is_secure()):
            back = request.path
        return redirect(back)
