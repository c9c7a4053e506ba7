"""Django's error views, in the API's error shape under /api/.

Errors a DRF view raises are shaped by `config.api.exception_handler`; these answer what never
reaches one: an unknown path, a body over Django's size limit read outside a view, a host
refused by ALLOWED_HOSTS, a crash. Pages elsewhere keep Django's HTML views.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

from accounts.api.errors import error_body

API_PREFIX = "/api/"


def is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def too_large_message() -> str:
    return (
        f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes, "
        "the most this server reads."
    )


def _json(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse(error_body(code, message), status=status)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if not is_api(request):
        return defaults.bad_request(request, exception)
    if isinstance(exception, RequestDataTooBig):
        return _json(413, "request_too_large", too_large_message())
    return _json(400, "bad_request", "The request is malformed or its host is not served here.")


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if not is_api(request):
        return defaults.permission_denied(request, exception)
    return _json(403, "permission_denied", "You do not have permission to do this.")


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if not is_api(request):
        return defaults.page_not_found(request, exception)
    return _json(404, "not_found", "Not found: no API endpoint or object answers at this address.")


def server_error(request: HttpRequest) -> HttpResponse:
    if not is_api(request):
        return defaults.server_error(request)
    return _json(500, "server_error", "Something went wrong on our side; the error was logged.")
