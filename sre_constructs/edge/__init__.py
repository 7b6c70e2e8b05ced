"""The platform's edge: its UIs under its domain through the Istio ingress gateway, with TLS and
single sign-on (``domain``, ``expose`` and ``sso`` of :class:`~sre_constructs.CorePlatform`)."""

from __future__ import annotations

from .settings import OWN_LOGIN, UIS, Exposure, Sso, check_exposure

__all__ = ["OWN_LOGIN", "UIS", "Exposure", "Sso", "check_exposure"]
