"""The clinician review UI, served from ``ui/`` by ``router`` (included by ``service.app.create_app``)."""

from medvlm.service.ui.router import router

__all__ = ["router"]
