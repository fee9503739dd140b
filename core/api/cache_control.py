"""API responses are never stored by a browser or a proxy: they carry account data."""

from __future__ import annotations

from django.utils.cache import add_never_cache_headers, patch_cache_control

API_PREFIX = "/api/"


class NoStoreApiMiddleware:
    """`Cache-Control: no-store` (with Django's never-cache headers) on every API response,
    errors included. The schema and the docs' files are public and keep their own."""

    PUBLIC = ("/api/schema/", "/api/docs/")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.path.startswith(API_PREFIX) and not request.path.startswith(self.PUBLIC):
            add_never_cache_headers(response)
            patch_cache_control(response, no_store=True, private=True)
        return response
