"""Who may open which page. Anonymous visitors go to the login page; a signed-in user on a
page that is not theirs gets 403 (a redirect to login would loop)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

View = Callable[..., HttpResponse]


def staff_required(view: View) -> View:
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not request.user.is_staff:
            raise PermissionDenied("managers only")
        return view(request, *args, **kwargs)

    return wrapper


def shopper_required(view: View) -> View:
    """The view gets the signed-in user's own Shopper as `request.shopper`."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        shopper = getattr(request.user, "shopper", None)
        if shopper is None:
            raise PermissionDenied("shoppers only")
        request.shopper = shopper
        return view(request, *args, **kwargs)

    return wrapper
